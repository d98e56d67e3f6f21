"""The signed-in customer's routes and the Clerk webhook, in the OpenAPI table's terms.

A sibling of ``openapi_table.OPERATIONS`` (which is at its size limit); ``openapi.py``
documents both.
"""

from __future__ import annotations

from service.http.identity_schemas import ClerkWebhookAckOut, MeOut, MyPaymentListOut
from service.http.openapi_sessions import SESSION
from service.http.openapi_table import JSON, Operation, Param, Raw

_SVIX_HEADERS = tuple(
    Param(name, "header", {"type": "string"}, description, required=True)
    for name, description in (
        ("svix-id", "The message id, the same on every retry of one message."),
        ("svix-timestamp", "Seconds since the epoch; at most 5 minutes away from now."),
        ("svix-signature", "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body`, space-separated."),
    )
)

IDENTITY_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/api/me",
        "get_me",
        "The signed-in customer",
        "payments",
        ok={200: MeOut},
        errors=(400, 401, 503),
        security=SESSION,
        description="`synced` is false until the identity provider's user record has "
        "arrived (Clerk's user.created webhook).",
    ),
    Operation(
        "GET",
        "/api/me/payments",
        "list_my_payments",
        "The signed-in customer's payments, newest first",
        "payments",
        ok={200: MyPaymentListOut},
        errors=(400, 401, 422, 503),
        security=SESSION,
        params=(
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "Page size.",
            ),
            Param(
                "cursor",
                "query",
                {"type": "string", "maxLength": 200},
                "`next_cursor` of the previous page.",
            ),
        ),
    ),
    Operation(
        "POST",
        "/webhooks/clerk",
        "clerk_webhook",
        "Clerk's user webhooks (sent through Svix)",
        "webhooks",
        ok={200: ClerkWebhookAckOut},
        errors=(400, 404, 413, 500),
        request=Raw(JSON, {"type": "object", "description": "A Clerk webhook event."}),
        params=_SVIX_HEADERS,
        description="Authenticated by its Svix signature only (400 when missing, wrong or "
        "stale); 404 when CLERK_WEBHOOK_SIGNING_SECRET is not set; 500 asks Svix to retry.",
    ),
)
