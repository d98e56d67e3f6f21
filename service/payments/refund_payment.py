"""Refund a succeeded payment, fully or in part, never above what is refundable.

The refund row is written first and reserves its amount (so two concurrent refunds can
never add up to more than was captured); the Stripe call's idempotency key is that row's
id. When Stripe cannot be reached the row stays pending and reserved: the refund may or
may not exist at Stripe, and its webhook or reconciliation settles it. Never refund twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID, uuid4

from service import errors
from service.payments.models import Payment, Refund, RefundReason
from service.payments.ports import (
    GatewayError,
    GatewayInvalidRequest,
    PaymentGateway,
    PaymentStore,
)
from service.payments.refund_state import record_refund_change, refund_is_stale

log = logging.getLogger(__name__)


async def refund_payment(
    payment_id: UUID,
    amount: int | None,
    reason: RefundReason | None,
    *,
    store: PaymentStore,
    gateway: PaymentGateway,
    new_id: Callable[[], UUID] = uuid4,
) -> tuple[Payment, Refund]:
    async with store.transaction() as tx:
        payment = await tx.get_payment(payment_id, for_update=True)
        if payment is None:
            raise errors.NotFound("No such payment.", code="payment_not_found")
        if payment.status != "succeeded" or payment.stripe_payment_intent_id is None:
            raise errors.Conflict(
                "Only a succeeded payment can be refunded.",
                code="payment_not_refundable",
                details={"status": payment.status},
            )
        refundable = payment.amount_captured - await tx.reserved_refund_amount(payment.id)
        amount = refundable if amount is None else amount
        if amount <= 0 or amount > refundable:
            raise errors.InvalidInput(
                "The refund is larger than what is left to refund.",
                code="refund_exceeds_refundable",
                details={"requested": amount, "refundable": refundable},
            )
        refund = await tx.add_refund(new_id(), payment, amount, reason)
    try:
        answer = await gateway.create_refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount=amount,
            reason=reason,
            metadata={"paylive_refund_id": str(refund.id), "paylive_payment_id": str(payment.id)},
            idempotency_key=f"paylive-refund-{refund.id}",
        )
    except GatewayInvalidRequest as exc:
        async with store.transaction() as tx:
            await tx.update_refund(
                refund.id, stripe_refund_id=None, status="failed", failure_reason=exc.stripe_message
            )
        raise
    except GatewayError:
        log.warning("refund outcome unknown; kept pending", extra={"refund_id": str(refund.id)})
        raise
    async with store.transaction() as tx:
        # Payment row first, then the refund: the order webhooks lock them in.
        locked = await tx.get_payment(payment_id, for_update=True)
        current = await tx.get_refund(refund.id)
        assert locked is not None
        assert current is not None
        if refund_is_stale(current, answer.status):
            return locked, current  # its webhook got there first
        refund = await tx.update_refund(
            refund.id,
            stripe_refund_id=answer.id,
            status=answer.status,
            failure_reason=answer.failure_reason,
        )
        payment = await record_refund_change(
            tx, payment_id, refund, cause_type="api", cause_id=None
        )
    return payment, refund
