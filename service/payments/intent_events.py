"""payment_intent.* events (status, amounts, attempts) and charge.* events (their card)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from service.payments.attempts import attempt_of
from service.payments.card_effects import card_effect
from service.payments.customer_view import customer_attempt
from service.payments.event_binding import Bound, Claim, bound_payment
from service.payments.event_common import (
    EventResult,
    EventRule,
    find_payment,
    mismatch_result,
    save,
    status_change,
)
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
    claim = Claim("payment_intent", intent.amount, intent.currency, intent=intent.id)
    found = await bound_payment(tx, intent.paylive_payment_id, claim)
    if not isinstance(found, Bound):
        return EventResult("not_ours") if found is None else mismatch_result(found)
    payment = found.payment
    attempt = attempt_of(rule.attempt, event, intent) if rule.attempt else None
    if attempt and attempt.stripe_charge_id and not attempt.card_brand:
        # PaymentIntent events name the charge; the card is on the charge's own event
        # (read under the payment's lock, which the charge's event takes too; applied
        # optimistically, a charge not found sends the event under that lock).
        charge = await tx.charge_card(attempt.stripe_charge_id)
        card = card_of_charge(charge) if charge is not None else None
        if card is not None:
            attempt = replace(attempt, card_brand=card.brand, card_last4=card.last4)
    recorded = attempt is not None
    data: dict[str, Any] = {"stripe_status": intent.status}
    if attempt is not None:
        await tx.add_attempt(payment.id, attempt)
        await _apply_card_effect(tx, payment, attempt, event.id)
        data["attempt"] = _attempt_summary(attempt, saved=payment.customer_id is not None)
    if found.unbound:
        # A Checkout payment's PaymentIntent before its session names it: history only.
        change = _attempt_change(event, data, None) if recorded else None
        return await save(tx, payment, change, attempt_recorded=recorded)
    new_id = intent.id if payment.stripe_payment_intent_id is None else None
    status = rule.status(intent.status)
    update = replace(
        intent_amounts(payment, intent.amounts, status), stripe_payment_intent_id=new_id
    )
    change = status_change(payment, event, rule, status, update, data)
    if change is None and (recorded or new_id):
        change = _attempt_change(event, data, new_id) if recorded else None
        change = change or Change(
            kind="stripe_ids_attached",
            cause_type="stripe_event",
            cause_id=event.id,
            update=PaymentUpdate(stripe_payment_intent_id=new_id),
            data={**data, "event_type": event.type},
        )
    return await save(tx, payment, change, attempt_recorded=recorded)


def _attempt_change(event: StripeEvent, data: dict[str, Any], new_id: str | None) -> Change:
    return Change(
        kind="attempt_recorded",
        cause_type="stripe_event",
        cause_id=event.id,
        update=PaymentUpdate(stripe_payment_intent_id=new_id),
        data={**data, "event_type": event.type},
    )


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
    if card_effect(attempt.decline_code, attempt.error_code).action == "disable":
        await tx.disable_card(
            payment_method_id=method,
            customer_id=payment.customer_id,
            reason=attempt.decline_code or attempt.error_code or "card_declined",
            payment_id=payment.id,
            stripe_event_id=event_id,
        )


def _attempt_summary(attempt: NewAttempt, *, saved: bool = False) -> dict[str, Any]:
    """The attempt as the timeline shows it: the browser replays it (customer_view).
    `saved`: the payment has a customer, whose card may be saved: the summary says what
    the decline does to it (from the shown, fraud-masked decline code)."""
    summary = customer_attempt(attempt).to_json()
    if saved and attempt.outcome == "failed":
        shown = summary.get("decline_code")
        summary["card_action"] = card_effect(shown, summary.get("error_code")).action
    return summary


async def charge_card(tx: PaymentsTx, event: StripeEvent, rule: EventRule) -> EventResult:
    """A charge event completes its attempt's card, whichever of it and its PaymentIntent
    event commits first.

    Both lock the payment before touching the attempt (the PaymentIntent event before
    reading the charge from the inbox, this one before the UPDATE), so the second to
    commit sees the first's rows. A PaymentIntent event applied without the lock
    (``PgStore.optimistic``) goes on only if it found the charge stored; its guarded
    write waits on this event's lock, and this one's UPDATE on its written attempt. Card
    details are history, not status: no version, no push (the next update or a read of
    /attempts shows them).
    """
    charge = parse_charge(event.object)
    if charge.card is None or charge.card.brand is None:
        return EventResult("no_change")
    payment = await find_payment(
        tx, charge.paylive_payment_id, intent=charge.payment_intent, session=None
    )
    filled = await tx.fill_attempt_card(charge.id, charge.card.brand, charge.card.last4)
    payment_id = payment.id if payment is not None else None
    return EventResult("applied" if filled else "no_change", payment_id)
