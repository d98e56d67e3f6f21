"""Cancel an open payment where Stripe allows it."""

from __future__ import annotations

import logging
from uuid import UUID

from service import errors
from service.payments.models import CancellationReason, Change, Payment, PaymentUpdate
from service.payments.ports import PaymentGateway, PaymentStore
from service.payments.states import is_final

log = logging.getLogger(__name__)


async def cancel_payment(
    payment_id: UUID,
    reason: CancellationReason | None,
    *,
    store: PaymentStore,
    gateway: PaymentGateway,
) -> Payment:
    async with store.transaction() as tx:
        payment = await tx.get_payment(payment_id)
    if payment is None:
        raise errors.NotFound("No such payment.", code="payment_not_found")
    if payment.status == "canceled":
        return payment  # cancelling twice is not an error
    if is_final(payment.status):
        raise errors.Conflict(
            "A succeeded payment cannot be canceled; refund it instead.",
            code="payment_not_cancelable",
            details={"status": payment.status},
        )
    stripe_status = "canceled"
    if payment.stripe_payment_intent_id and payment.flow == "payment_intent":
        intent = await gateway.cancel_payment_intent(
            payment.stripe_payment_intent_id,
            reason=reason,
            idempotency_key=f"paylive-cancel-{payment.id}",
        )
        stripe_status = intent.status
    elif payment.flow == "checkout_session" and payment.stripe_checkout_session_id:
        # A Checkout payment is canceled by expiring its session (Stripe then cancels
        # the session's PaymentIntent); a session already completed refuses.
        session = await gateway.expire_checkout_session(
            payment.stripe_checkout_session_id,
            idempotency_key=f"paylive-expire-{payment.id}",
        )
        if session.status != "expired":
            raise errors.Conflict(
                "The checkout session is already complete.",
                code="payment_not_cancelable",
                details={"checkout_status": session.status},
            )
    async with store.transaction() as tx:
        current = await tx.get_payment(payment_id, for_update=True)
        assert current is not None
        if is_final(current.status):
            return current  # a webhook got there first
        updated = await tx.apply_change(
            current,
            Change(
                kind="canceled",
                cause_type="api",
                cause_id=None,
                status=stripe_status,
                update=PaymentUpdate(cancellation_reason=reason or "requested_by_customer"),
            ),
        )
    log.info("payment canceled", extra={"payment_id": str(payment_id)})
    return updated
