"""``POST /webhooks/clerk``: Clerk's user events, sent through Svix.

Svix signs with the Standard Webhooks scheme under svix-* header names, so the
``standardwebhooks`` library verifies it (svix-id, svix-timestamp, svix-signature read as
webhook-*; 5 minutes of tolerance either way; the ``svix`` package itself would import its
whole API client, ~0.6 s of start-up) against CLERK_WEBHOOK_SIGNING_SECRET.
400: not signed by Clerk, nothing stored. 200: applied, or nothing to do (the body's
``outcome`` says which). 500: it failed and was rolled back; Svix retries.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.db.identity_store import IdentityStore
from service.http.errors import error_response
from service.http.identity_schemas import ClerkWebhookAckOut
from service.http.webhooks import _read_limited
from service.identity.sync_user import receive_clerk_message, user_id_of
from service.identity.user_sync import event_type
from service.keys import CUSTOMER_DIRECTORY, DB_POOL, LOG_FIELDS, SETTINGS

log = logging.getLogger(__name__)

SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
MAX_SVIX_ID = 255


async def clerk_webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    secret = settings.clerk_webhook_signing_secret
    if secret is None:
        return error_response(
            404, "clerk_webhooks_disabled", "CLERK_WEBHOOK_SIGNING_SECRET is not set."
        )
    body = await _read_limited(request, settings.max_webhook_bytes)
    if body is None:
        return error_response(413, "payload_too_large", "The webhook body is too large.")
    headers = {name: request.headers.get(name, "") for name in SVIX_HEADERS}
    svix_id = headers["svix-id"]
    try:
        if not 0 < len(svix_id) <= MAX_SVIX_ID:
            raise WebhookVerificationError("bad svix-id")
        standard = {name.replace("svix-", "webhook-"): value for name, value in headers.items()}
        Webhook(secret.get_secret_value()).verify(body, standard, json_parse=False)
        text = body.decode()
        payload = json.loads(text)
    except (WebhookVerificationError, ValueError):
        log.warning("Clerk webhook refused: missing, bad or stale Svix signature")
        return error_response(400, "signature_invalid", "The Svix signature is not valid.")
    store = IdentityStore(request.app[DB_POOL])
    try:
        outcome = await receive_clerk_message(
            svix_id, payload, text, store=store, directory=request.app[CUSTOMER_DIRECTORY]
        )
    except Exception as exc:
        log.exception("Clerk message %s failed", svix_id)
        await _record_failure(store, svix_id, payload, text, exc)
        return error_response(500, "webhook_failed", "The event could not be applied; retry.")
    fields: dict[str, object] = {
        "svix_id": svix_id,
        "event_type": event_type(payload),
        "outcome": outcome,
    }
    request[LOG_FIELDS] = fields
    return web.json_response(
        text=ClerkWebhookAckOut(received=True, outcome=outcome).model_dump_json()
    )


async def _record_failure(
    store: IdentityStore, svix_id: str, payload: object, text: str, exc: Exception
) -> None:
    try:
        async with store.transaction() as tx:
            await tx.clerk_record_failure(
                svix_id, event_type(payload) or "unknown", user_id_of(payload), text, repr(exc)
            )
    except Exception:
        log.exception("could not record the failure of Clerk message %s", svix_id)
