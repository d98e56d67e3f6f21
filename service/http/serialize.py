"""Domain records to response models."""

from __future__ import annotations

from service.http.schemas import AttemptOut, PaymentOut, RefundOut, TimelineEntryOut
from service.payments.declines import FRAUD_CODES, GENERIC_MESSAGE
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
    """``for_customer``: the browser's view, where a fraud decline looks generic (§7)."""
    error: dict[str, str | None] | None = None
    if a.error_code or a.decline_code or a.error_message:
        error = {
            "type": a.error_type,
            "code": a.error_code,
            "decline_code": a.decline_code,
            "advice_code": a.advice_code,
            "network_advice_code": a.network_advice_code,
            "network_decline_code": a.network_decline_code,
            "message": a.error_message,
        }
        if for_customer and FRAUD_CODES & {a.decline_code, a.error_code}:
            error = {
                **dict.fromkeys(error),
                "type": a.error_type,
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": GENERIC_MESSAGE,
            }
    advice = None
    if a.advice_next_step is not None:
        advice = {
            "next_step": a.advice_next_step,
            "retryable": a.advice_retryable,
            "message": a.advice_message,
        }
    return AttemptOut(
        outcome=a.outcome,
        stripe_event_id=a.stripe_event_id,
        charge_id=a.stripe_charge_id,
        payment_method_id=a.stripe_payment_method_id,
        card_brand=a.card_brand,
        card_last4=a.card_last4,
        error=error,
        advice=advice,
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
