"""payment_intent.* events (status, amounts, attempts) and charge.* events (their card)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from service.payments.attempts import attempt_of
from service.payments.card_effects import card_effect
from service.payments.declines import FRAUD_CODES
from service.payments.event_common import EventResult, EventRule, find_payment, save, status_change
from service.payments.models import Change, NewAttempt, Payment, PaymentUpdate
from service.payments.ports import PaymentsTx
from service.payments.stripe_objects import (
    IntentAmounts,
    StripeEvent,
    card_of_charge,
    parse_charge,
    parse_payment_intent,
)


async def intent_event(tx: PaymentsTx, event: StripeEvent, rule: EventRule) -> EventResult:
    intent = parse_payment_intent(event.object)  # before any write: it may refuse
    payment = await find_payment(tx, intent.paylive_payment_id, intent=intent.id, session=None)
    if payment is None:
        return EventResult("not_ours")
    attempt = attempt_of(rule.attempt, event, intent) if rule.attempt else None
    if attempt and attempt.stripe_charge_id and not attempt.card_brand:
        # PaymentIntent events name the charge; the card is on the charge's own event.
        charge = await tx.charge_card(attempt.stripe_charge_id)
        card = card_of_charge(charge) if charge is not None else None
        if card is not None:
            attempt = replace(attempt, card_brand=card.brand, card_last4=card.last4)
    recorded = attempt is not None and await tx.add_attempt(payment.id, attempt)
    if recorded and attempt is not None:
        await _apply_card_effect(tx, payment, attempt, event.id)
    new_id = intent.id if payment.stripe_payment_intent_id is None else None
    status = rule.status(intent.status)
    data: dict[str, Any] = {"stripe_status": intent.status}
    if recorded and attempt:
        data["attempt"] = _attempt_summary(attempt, saved=payment.customer_id is not None)
    update = replace(
        intent_amounts(payment, intent.amounts, status), stripe_payment_intent_id=new_id
    )
    change = status_change(payment, event, rule, status, update, data)
    if change is None and (recorded or new_id):
        change = Change(
            kind="attempt_recorded" if recorded else "stripe_ids_attached",
            cause_type="stripe_event",
            cause_id=event.id,
            update=PaymentUpdate(stripe_payment_intent_id=new_id),
            data={**data, "event_type": event.type},
        )
    return await save(tx, payment, change, attempt_recorded=recorded)


def intent_amounts(payment: Payment, intent: IntentAmounts, status: str | None) -> PaymentUpdate:
    """What a PaymentIntent in `status` sets on the payment (webhooks and reconciliation)."""
    received, capturable = intent.amount_received, intent.amount_capturable
    captured = None
    if status == "succeeded" and received is not None and 0 < received <= payment.amount:
        captured = max(received, payment.amount_refunded)
    if capturable is not None and capturable > payment.amount:
        capturable = None
    reason = None
    if status == "canceled" and payment.flow == "checkout_session":
        # A Checkout Session's PaymentIntent cannot be canceled directly, only by the
        # session expiring, and whichever of the two events lands first is final.
        reason = "expired"
    elif status == "canceled" and intent.cancellation_reason:
        reason = intent.cancellation_reason
    return PaymentUpdate(
        amount_capturable=capturable, amount_captured=captured, cancellation_reason=reason
    )


async def _apply_card_effect(
    tx: PaymentsTx, payment: Payment, attempt: NewAttempt, event_id: str
) -> None:
    """A decline that makes a customer's card unusable disables it (``card_effects``), in
    the transaction that records the attempt. Only a customer's card can be saved."""
    method = attempt.stripe_payment_method_id
    if attempt.outcome != "failed" or payment.customer_id is None or method is None:
        return
    effect = card_effect(attempt.decline_code, attempt.error_code)
    if effect.action == "disable":
        await tx.disable_card(
            payment_method_id=method,
            customer_id=payment.customer_id,
            reason=attempt.decline_code or attempt.error_code or "card_declined",
            payment_id=payment.id,
            stripe_event_id=event_id,
        )


def _attempt_summary(attempt: NewAttempt, *, saved: bool = False) -> dict[str, Any]:
    """The attempt as the timeline shows it (the browser replays it). `saved`: the payment
    has a customer, whose card may be saved: the summary says what the decline did to it."""
    decline_code = attempt.decline_code
    if decline_code in FRAUD_CODES:
        # The timeline is replayed to the browser: a fraud decline must look generic (§7).
        decline_code = "generic_decline"
    summary = {
        "outcome": attempt.outcome,
        "error_code": attempt.error_code,
        "decline_code": decline_code,
        "advice_next_step": attempt.advice_next_step,
        "advice_retryable": attempt.advice_retryable,
        "advice_message": attempt.advice_message,
        "card_brand": attempt.card_brand,
        "card_last4": attempt.card_last4,
        "card_action": (
            card_effect(decline_code, attempt.error_code).action
            if saved and attempt.outcome == "failed"
            else None
        ),
    }
    return {key: value for key, value in summary.items() if value is not None}


async def charge_card(tx: PaymentsTx, event: StripeEvent, rule: EventRule) -> EventResult:
    """A charge event arriving after its PaymentIntent event completes that attempt's card.

    Card details are history, not status: no version, no push (the next update or a read
    of /attempts shows them).
    """
    charge = parse_charge(event.object)
    if charge.card is None or charge.card.brand is None:
        return EventResult("no_change")
    filled = await tx.fill_attempt_card(charge.id, charge.card.brand, charge.card.last4)
    return EventResult("applied" if filled else "no_change")
