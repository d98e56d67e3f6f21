"""Refund events: refund.* and charge.refunded, applied with forward-only refund statuses."""

from __future__ import annotations

from uuid import uuid4

from service.payments.event_common import EventResult, EventRule, find_payment
from service.payments.models import Change, Payment, PaymentUpdate, Refund
from service.payments.ports import PaymentsTx
from service.payments.refund_state import (
    REFUND_RANK,
    record_refund_change,
    refund_is_stale,
    refunded_update,
)
from service.payments.stripe_objects import RefundObject, StripeEvent, parse_charge, parse_refund


async def refund_event(tx: PaymentsTx, event: StripeEvent, rule: EventRule) -> EventResult:
    obj = parse_refund(event.object)  # before any write: it may refuse
    payment = await find_payment(
        tx, obj.paylive_payment_id, intent=obj.payment_intent, session=None
    )
    if payment is None or obj.amount is None:
        return EventResult("not_ours")
    if _nothing_captured(payment):
        return EventResult.of(payment, changed=False)
    refund = await _upsert_refund(tx, payment, obj)
    if refund is None:
        return EventResult.of(payment, changed=False)  # nothing new, or an older status
    updated = await record_refund_change(
        tx, payment.id, refund, cause_type="stripe_event", cause_id=event.id
    )
    return EventResult.of(updated, changed=True)


def _nothing_captured(payment: Payment) -> bool:
    """Canceled before any capture: a "refund" is the authorization being released.

    Stripe reports that as the charge refunded; there is nothing to refund on our side,
    and recording it would break amount_refunded <= amount_captured on every retry.
    """
    return payment.status == "canceled" and payment.amount_captured == 0


async def _upsert_refund(tx: PaymentsTx, payment: Payment, obj: RefundObject) -> Refund | None:
    """Record a Stripe refund object on our refund row (made if unknown); None: nothing new."""
    if obj.status not in REFUND_RANK or obj.amount is None:
        return None  # a status we do not know (the refunds CHECK would refuse it forever)
    refund = await tx.get_refund_by_stripe_id(obj.id)
    if refund is None and obj.paylive_refund_id is not None:
        refund = await tx.get_refund(obj.paylive_refund_id)
    if refund is None:
        return await tx.add_external_refund(
            uuid4(), payment, obj.id, obj.amount, obj.status, obj.reason
        )
    if refund_is_stale(refund, obj.status):
        return None
    return await tx.update_refund(
        refund.id, stripe_refund_id=obj.id, status=obj.status, failure_reason=obj.failure_reason
    )


async def charge_refunded(tx: PaymentsTx, event: StripeEvent, rule: EventRule) -> EventResult:
    charge = parse_charge(event.object)  # before any write: it may refuse
    payment = await find_payment(
        tx, charge.paylive_payment_id, intent=charge.payment_intent, session=None
    )
    if payment is None:
        return EventResult("not_ours")
    if charge.captured is False or _nothing_captured(payment):
        return EventResult.of(payment, changed=False)  # an authorization released
    if charge.refunds is not None:
        # The charge's own refund list is exact: record each refund (forward-only), and
        # amount_refunded follows our succeeded refunds, so a charge snapshot taken before
        # a refund failed cannot bring the failed amount back.
        changed = [r for obj in charge.refunds if (r := await _upsert_refund(tx, payment, obj))]
        total = await tx.succeeded_refund_total(payment.id)
        if not changed and total == payment.amount_refunded:
            return EventResult.of(payment, changed=False)
        change = Change(
            kind="charge.refunded",
            cause_type="stripe_event",
            cause_id=event.id,
            update=refunded_update(payment, total),
            data={"amount_refunded": charge.amount_refunded, "refunds": len(charge.refunds)},
        )
        return EventResult.of(await tx.apply_change(payment, change), changed=True)
    refunded = charge.amount_refunded
    # Never above what was captured (the payments CHECK would refuse it on every retry).
    if refunded is None or refunded <= payment.amount_refunded or payment.amount_captured == 0:
        return EventResult.of(payment, changed=False)
    change = Change(
        kind="charge.refunded",
        cause_type="stripe_event",
        cause_id=event.id,
        update=PaymentUpdate(amount_refunded=min(refunded, payment.amount_captured)),
        data={"amount_refunded": refunded},
    )
    return EventResult.of(await tx.apply_change(payment, change), changed=True)
