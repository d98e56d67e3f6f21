"""Which notification a payment change causes: pure, no I/O.

``notification_for`` is called by the db layer inside the change's own transaction (the
outbox), with the payment before and after the change. ``data`` is what
``GET /api/payments/{id}`` shows (the same serializer) plus the cause and, for a failed
attempt, the attempt; the db layer fills ``customer`` (the customer's external id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, get_args
from uuid import UUID

from service.http.serialize import payment_out
from service.payments.models import Change, Payment

NotificationType = Literal[
    "payment.created",
    "payment.processing",
    "payment.requires_action",
    "payment.attempt_failed",
    "payment.succeeded",
    "payment.canceled",
    "payment.refunded",
]
TYPES: Final[tuple[str, ...]] = get_args(NotificationType)

# A status entered that the merchant hears about as such.
_STATUS_TYPES: Final[dict[str, NotificationType]] = {
    "processing": "payment.processing",
    "requires_action": "payment.requires_action",
    "succeeded": "payment.succeeded",
    "canceled": "payment.canceled",
}


@dataclass(frozen=True)
class Notification:
    type: NotificationType
    payment_id: UUID
    version: int
    customer_id: UUID | None  # the db layer turns it into data["customer"]
    data: dict[str, Any]  # JSON-ready


def notification_type(
    before: Payment | None, after: Payment, change: Change
) -> NotificationType | None:
    """The one type this change is announced as, or None (a card filled in, ids attached)."""
    if before is None:
        return "payment.created"
    if after.status != before.status and after.status in _STATUS_TYPES:
        return _STATUS_TYPES[after.status]
    if _failed_attempt(change) is not None:
        return "payment.attempt_failed"
    if after.amount_refunded > before.amount_refunded:
        return "payment.refunded"
    return None


def notification_for(before: Payment | None, after: Payment, change: Change) -> Notification | None:
    kind = notification_type(before, after, change)
    if kind is None:
        return None
    data: dict[str, Any] = payment_out(after).model_dump(mode="json")
    data["customer"] = None
    data["cause"] = {"kind": change.kind, "type": change.cause_type, "id": change.cause_id}
    if kind == "payment.attempt_failed":
        data["attempt"] = _failed_attempt(change)
    return Notification(kind, after.id, after.version, after.customer_id, data)


def _failed_attempt(change: Change) -> dict[str, Any] | None:
    """The attempt a change recorded (decline code and our advice), if it failed."""
    attempt = change.data.get("attempt")
    if isinstance(attempt, dict) and attempt.get("outcome") == "failed":
        return dict(attempt)
    return None
