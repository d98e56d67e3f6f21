"""The OpenAPI rows of the merchant-notification routes (joined to the table in openapi.py)."""

from __future__ import annotations

from service.http.notifications import MAX_PAGE, NotificationListOut, NotificationOut
from service.http.openapi_table import API_KEY, Operation, Param

NOTIFICATION_PATH_PARAMS: dict[str, Param] = {
    "notification_id": Param(
        "notification_id",
        "path",
        {"type": "integer", "minimum": 1},
        "The notification's id (from the list); anything else is 404.",
        required=True,
    ),
}

NOTIFICATION_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/api/notifications",
        "list_notifications",
        "Merchant notifications with their delivery attempts, newest first",
        "ops",
        ok={200: NotificationListOut},
        errors=(400, 401, 422),
        security=(API_KEY,),
        params=(
            Param("payment_id", "query", {"type": "string", "format": "uuid"}, "One payment's."),
            Param(
                "status",
                "query",
                {"type": "string", "enum": ["pending", "delivered", "failed"]},
                "Only notifications in this state.",
            ),
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
                "At most this many.",
            ),
        ),
    ),
    Operation(
        "POST",
        "/api/notifications/{notification_id}/retry",
        "retry_notification",
        "Send a notification again now, from a fresh retry schedule",
        "ops",
        ok={200: NotificationOut},
        # 400, 409, 422: the Idempotency-Key's own answers (malformed, in use, reused)
        errors=(400, 401, 404, 409, 422),
        security=(API_KEY,),
        description="Also re-enables its endpoint if a 410 Gone had disabled it. Later "
        "versions of the same payment wait until this one is delivered or fails again.",
    ),
)
