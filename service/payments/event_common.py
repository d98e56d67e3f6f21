"""What the event appliers share: their result, and finding the payment an object is about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from service.payments.models import Payment
from service.payments.ports import PaymentsTx

Outcome = Literal["applied", "no_change", "not_ours", "ignored", "duplicate"]


@dataclass(frozen=True)
class EventResult:
    outcome: Outcome
    payment_id: UUID | None = None
    version: int | None = None

    @classmethod
    def of(cls, payment: Payment, changed: bool) -> EventResult:
        return cls("applied" if changed else "no_change", payment.id, payment.version)


def epoch(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


def as_uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


async def find_payment(
    tx: PaymentsTx, obj: dict[str, Any], *, intent: str | None, session: str | None
) -> Payment | None:
    """By Stripe id, else by the paylive_payment_id we put in the metadata."""
    payment = await tx.get_payment_by_stripe_id(
        payment_intent=intent, checkout_session=session, for_update=True
    )
    if payment is None:
        metadata = obj.get("metadata") or {}
        ours = as_uuid(metadata.get("paylive_payment_id"))
        payment = await tx.get_payment(ours, for_update=True) if ours else None
        if payment is not None and (
            (intent and payment.stripe_payment_intent_id not in (None, intent))
            or (session and payment.stripe_checkout_session_id not in (None, session))
        ):
            # metadata copied onto some other PaymentIntent or Checkout Session: not ours
            return None
    return payment
