"""checkout.session.* events: a Checkout payment's status, amount and PaymentIntent id."""

from __future__ import annotations

from typing import Any

from service.payments.event_binding import Bound, Claim, bound_payment
from service.payments.event_common import (
    EventResult,
    EventRule,
    mismatch_result,
    save,
    status_change,
)
from service.payments.models import Change, PaymentUpdate
from service.payments.ports import PaymentsTx
from service.payments.stripe_objects import StripeEvent, parse_checkout_session


async def checkout_event(tx: PaymentsTx, event: StripeEvent, rule: EventRule) -> EventResult:
    session = parse_checkout_session(event.object)  # before any write: it may refuse
    claim = Claim(
        "checkout_session",
        session.amount_total,
        session.currency,
        intent=session.payment_intent,
        session=session.id,
    )
    found = await bound_payment(tx, session.paylive_payment_id, claim)
    if not isinstance(found, Bound):
        return EventResult("not_ours") if found is None else mismatch_result(found)
    payment = found.payment
    status = rule.status(session.payment_status)
    total = session.amount_total
    update = PaymentUpdate(
        # The session names its PaymentIntent: the one binding a Checkout payment to it.
        stripe_payment_intent_id=session.payment_intent
        if payment.stripe_payment_intent_id is None
        else None,
        amount_captured=total
        if status == "succeeded" and total is not None and 0 < total <= payment.amount
        else None,
        cancellation_reason="expired" if status == "canceled" else None,
    )
    data: dict[str, Any] = {
        "checkout_status": session.status,
        "payment_status": session.payment_status,
    }
    change = status_change(payment, event, rule, status, update, data)
    if change is None and update.stripe_payment_intent_id is not None:
        # Status not applied (older, or already final): the session still names its
        # PaymentIntent, and only it can (``event_binding.py``).
        change = Change(
            kind="stripe_ids_attached",
            cause_type="stripe_event",
            cause_id=event.id,
            update=PaymentUpdate(stripe_payment_intent_id=update.stripe_payment_intent_id),
            data={**data, "event_type": event.type},
        )
    return await save(tx, payment, change)
