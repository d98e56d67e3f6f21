"""A refund's status rules, shared by the refund API and the refund webhooks."""

from __future__ import annotations

from uuid import UUID

from service.payments.models import CauseType, Change, Payment, PaymentUpdate, Refund
from service.payments.ports import PaymentsTx

# Refund statuses in the order they can follow each other (failed may follow succeeded).
REFUND_RANK = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}


def refund_is_stale(refund: Refund, status: str) -> bool:
    """Refund statuses only move forward: pending -> succeeded -> failed (Stripe's
    refund.failed comes after succeeded), never back, whatever order events arrive in."""
    incoming, current = REFUND_RANK.get(status, -1), REFUND_RANK.get(refund.status, -1)
    if incoming != current:
        return incoming < current
    # Same rank: the same status again, or the other terminal one, is nothing new; a
    # pending refund from our API still learns its Stripe id.
    return refund.stripe_refund_id is not None and (status == refund.status or current == 2)


def refunded_update(payment: Payment, succeeded_total: int) -> PaymentUpdate:
    """amount_refunded from our succeeded refunds. A succeeded refund proves that much was
    captured, even when its event arrives before the PaymentIntent's own: captured rises
    with it (never above the amount), so refunded <= captured <= amount holds in any order."""
    refunded = min(succeeded_total, payment.amount)
    captured = max(payment.amount_captured, refunded)
    return PaymentUpdate(
        amount_refunded=refunded,
        amount_captured=captured if captured != payment.amount_captured else None,
    )


async def record_refund_change(
    tx: PaymentsTx,
    payment_id: UUID,
    refund: Refund,
    *,
    cause_type: CauseType,
    cause_id: str | None,
) -> Payment:
    """A refund's new status becomes a timeline entry; amount_refunded follows succeeded ones."""
    payment = await tx.get_payment(payment_id, for_update=True)
    assert payment is not None
    refunded = await tx.succeeded_refund_total(payment_id)
    return await tx.apply_change(
        payment,
        Change(
            kind=f"refund_{refund.status}",
            cause_type=cause_type,
            cause_id=cause_id,
            update=refunded_update(payment, refunded),
            data={
                "refund_id": str(refund.id),
                "stripe_refund_id": refund.stripe_refund_id,
                "amount": refund.amount,
                "status": refund.status,
            },
        ),
    )
