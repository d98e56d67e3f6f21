"""Refund events: refund.* and charge.refunded, applied with forward-only refund statuses."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from service.payments.event_common import EventResult, as_uuid, find_payment
from service.payments.models import Change, Payment, Refund
from service.payments.ports import PaymentsTx
from service.payments.refund_state import REFUND_RANK, record_refund_change, refund_is_stale


async def refund_event(tx: PaymentsTx, event: dict[str, Any], obj: dict[str, Any]) -> EventResult:
    intent = obj.get("payment_intent")
    payment = await find_payment(
        tx, obj, intent=intent if isinstance(intent, str) else None, session=None
    )
    if payment is None or not isinstance(obj.get("amount"), int):
        return EventResult("not_ours")
    if _nothing_captured(payment):
        return EventResult.of(payment, changed=False)
    refund = await _upsert_refund(tx, payment, obj)
    if refund is None:
        return EventResult.of(payment, changed=False)  # nothing new, or an older status
    updated = await record_refund_change(
        tx, payment.id, refund, cause_type="stripe_event", cause_id=event["id"]
    )
    return EventResult.of(updated, changed=True)


def _nothing_captured(payment: Payment) -> bool:
    """Canceled before any capture: a "refund" is the authorization being released.

    Stripe reports that as the charge refunded; there is nothing to refund on our side,
    and recording it would break amount_refunded <= amount_captured on every retry.
    """
    return payment.status == "canceled" and payment.amount_captured == 0


async def _upsert_refund(tx: PaymentsTx, payment: Payment, obj: dict[str, Any]) -> Refund | None:
    """Record a Stripe refund object on our refund row (made if unknown); None: nothing new."""
    status = str(obj.get("status"))
    if status not in REFUND_RANK:
        return None  # a status we do not know (the refunds CHECK would refuse it forever)
    refund = await tx.get_refund_by_stripe_id(obj["id"])
    if refund is None and (ours := as_uuid((obj.get("metadata") or {}).get("paylive_refund_id"))):
        refund = await tx.get_refund(ours)
    if refund is None:
        return await tx.add_external_refund(
            uuid4(),
            payment,
            obj["id"],
            obj["amount"],
            status,
            obj.get("reason"),
        )
    if refund_is_stale(refund, status):
        return None
    return await tx.update_refund(
        refund.id,
        stripe_refund_id=obj["id"],
        status=status,
        failure_reason=obj.get("failure_reason"),
    )


def _listed_refunds(charge: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The refund objects a charge carries (`refunds.data`), if it carries them."""
    listed = charge.get("refunds")
    data = listed.get("data") if isinstance(listed, dict) else None
    if not isinstance(data, list):
        return None
    return [
        r
        for r in data
        if isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("amount"), int)
    ]


async def charge_refunded(
    tx: PaymentsTx, event: dict[str, Any], charge: dict[str, Any]
) -> EventResult:
    intent = charge.get("payment_intent")
    payment = await find_payment(
        tx, charge, intent=intent if isinstance(intent, str) else None, session=None
    )
    if payment is None:
        return EventResult("not_ours")
    if charge.get("captured") is False or _nothing_captured(payment):
        return EventResult.of(payment, changed=False)  # an authorization released
    listed = _listed_refunds(charge)
    if listed is not None:
        # The charge's own refund list is exact: record each refund (forward-only), and
        # amount_refunded follows our succeeded refunds, so a charge snapshot taken before
        # a refund failed cannot bring the failed amount back.
        changed = [r for obj in listed if (r := await _upsert_refund(tx, payment, obj))]
        total = await tx.succeeded_refund_total(payment.id)
        if not changed and total == payment.amount_refunded:
            return EventResult.of(payment, changed=False)
        change = Change(
            kind="charge.refunded",
            cause_type="stripe_event",
            cause_id=event["id"],
            fields={"amount_refunded": total},
            data={"amount_refunded": charge.get("amount_refunded"), "refunds": len(listed)},
        )
        return EventResult.of(await tx.apply_change(payment, change), changed=True)
    refunded = charge.get("amount_refunded")
    if not isinstance(refunded, int) or refunded <= payment.amount_refunded:
        return EventResult.of(payment, changed=False)
    change = Change(
        kind="charge.refunded",
        cause_type="stripe_event",
        cause_id=event["id"],
        fields={"amount_refunded": min(refunded, payment.amount_captured or refunded)},
        data={"amount_refunded": refunded},
    )
    return EventResult.of(await tx.apply_change(payment, change), changed=True)
