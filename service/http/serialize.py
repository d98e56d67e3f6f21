"""Domain records to response models."""

from __future__ import annotations

from service.http.schemas import AttemptOut, PaymentOut, RefundOut, TimelineEntryOut
from service.payments.customer_view import customer_attempt
from service.payments.models import Attempt, Payment, Refund, TimelineEntry


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(
        payment_id=str(p.id),
        order_id=p.order_id,
        flow=p.flow,
        status=p.status,
        version=p.version,
        amount=p.amount,
        currency=p.currency,
        amount_captured=p.amount_captured,
        amount_refunded=p.amount_refunded,
        payment_intent_id=p.stripe_payment_intent_id,
        checkout_session_id=p.stripe_checkout_session_id,
        checkout_url=p.checkout_url,
        cancellation_reason=p.cancellation_reason,
        description=p.description,
        metadata=p.metadata,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def timeline_out(e: TimelineEntry) -> TimelineEntryOut:
    return TimelineEntryOut(
        version=e.version,
        kind=e.kind,
        status=e.status,
        cause_type=e.cause_type,
        cause_id=e.cause_id,
        data=e.data,
        at=e.created_at,
    )


def attempt_out(a: Attempt, *, for_customer: bool = False) -> AttemptOut:
    """``for_customer``: the browser's view (``customer_view``): a fraud decline looks
    generic, the message is our advice (never Stripe's developer text), the issuer's and
    network's codes are left out."""
    view = customer_attempt(a) if for_customer else None
    if view is None:
        codes = (a.error_code, a.decline_code, a.advice_code)
        network = (a.network_advice_code, a.network_decline_code)
        message, advice = a.error_message, (a.advice_next_step, a.advice_retryable)
    else:
        codes, network = (view.error_code, view.decline_code, None), (None, None)
        message, advice = view.advice_message, (view.advice_next_step, view.advice_retryable)
    error: dict[str, str | None] | None = None
    if a.error_code or a.decline_code or a.error_message:
        error = {
            "type": a.error_type,
            "code": codes[0],
            "decline_code": codes[1],
            "advice_code": codes[2],
            "network_advice_code": network[0],
            "network_decline_code": network[1],
            "message": message,
        }
    return AttemptOut(
        outcome=a.outcome,
        stripe_event_id=a.stripe_event_id,
        charge_id=a.stripe_charge_id,
        payment_method_id=a.stripe_payment_method_id,
        card_brand=a.card_brand,
        card_last4=a.card_last4,
        error=error,
        advice=None
        if advice[0] is None
        else {"next_step": advice[0], "retryable": advice[1], "message": a.advice_message},
        at=a.occurred_at,
    )


def refund_out(r: Refund) -> RefundOut:
    return RefundOut(
        refund_id=str(r.id),
        stripe_refund_id=r.stripe_refund_id,
        amount=r.amount,
        currency=r.currency,
        status=r.status,
        reason=r.reason,
        failure_reason=r.failure_reason,
        created_at=r.created_at,
    )
