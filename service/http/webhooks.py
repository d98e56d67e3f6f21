"""``POST /webhooks/stripe``: verify, parse, ingest, answer (DESIGN §4)."""

from __future__ import annotations

import json
import logging
import time
from typing import get_args

from aiohttp import web

from service.http.errors import error_response
from service.http.parsing import parse_int
from service.http.webhook_quarantine import quarantine, screen
from service.keys import LOG_FIELDS, METRICS, SETTINGS, STORE, WEBHOOK_STATS
from service.payments.event_common import Outcome
from service.payments.ingest_event import InvalidEvent, check_event_shape, ingest_event
from service.stripe_gateway import verify_webhook_signature

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300

# The answer to each outcome, serialized once.
_ANSWERS = {
    outcome: json.dumps({"received": True, "outcome": outcome}).encode()
    for outcome in get_args(Outcome)
}
# A signed event no retry can make storable: kept, flagged, and not retried by Stripe.
_UNSTORABLE = json.dumps({"received": True, "outcome": "unstorable"}).encode()


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None if it is larger than `limit`.

    ``StreamReader.read(n)`` returns what has arrived so far (at most n bytes), not n
    bytes, so a body that comes in several network reads must be read to the end.
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    while chunk := await request.content.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _timestamp_in_future(header: str, tolerance: int) -> bool:
    """stripe-python refuses only stale timestamps; one too far ahead is refused too."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            seconds = parse_int(value)
            return seconds is None or seconds > time.time() + tolerance
    return False


async def stripe_webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    stats = request.app[WEBHOOK_STATS]
    body = await _read_limited(request, settings.max_webhook_bytes)
    if body is None:
        stats.outcomes["too_large"] += 1
        return error_response(413, "payload_too_large", "The webhook body is too large.")
    header = request.headers.get("Stripe-Signature", "")
    secrets = [s.get_secret_value() for s in settings.stripe_webhook_secrets]
    if (
        not header
        or _timestamp_in_future(header, SIGNATURE_TOLERANCE_SECONDS)
        or not verify_webhook_signature(body, header, secrets, SIGNATURE_TOLERANCE_SECONDS)
    ):
        stats.outcomes["bad_signature"] += 1
        log.warning("webhook refused: missing, bad or stale signature")
        return error_response(400, "signature_invalid", "The Stripe-Signature is not valid.")
    try:
        parsed, unstorable = screen(body)
        if unstorable is not None:
            stats.outcomes["unstorable"] += 1
            await quarantine(request.app[STORE], body, parsed, unstorable)
            return web.Response(body=_UNSTORABLE, content_type="application/json")
        text = body.decode()
        event = check_event_shape(parsed)
    except (ValueError, InvalidEvent) as exc:
        stats.outcomes["invalid"] += 1
        return error_response(400, "invalid_event", f"Not a Stripe event: {exc}")
    stats.received_by_type[event["type"]] += 1
    started = time.perf_counter()
    try:
        result = await ingest_event(
            event, store=request.app[STORE], raw=text, livemode=settings.livemode
        )
    except Exception:
        stats.outcomes["failed"] += 1
        log.exception("webhook %s failed", event["id"])
        return error_response(500, "webhook_failed", "The event could not be applied; retry.")
    finally:
        request.app[METRICS].observe_webhook(time.perf_counter() - started)
    stats.outcomes[result.outcome] += 1
    if result.outcome == "mismatch" and result.reason:
        stats.mismatches[result.reason] += 1
    request[LOG_FIELDS] = {
        "event_id": event["id"],
        "event_type": event["type"],
        "outcome": result.outcome,
        "payment_id": str(result.payment_id) if result.payment_id else None,
        "version": result.version,
    }
    return web.Response(body=_ANSWERS[result.outcome], content_type="application/json")
