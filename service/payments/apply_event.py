"""Apply one Stripe event to our payments, inside the caller's transaction (DESIGN §4).

Statuses follow the ordering rules of ``states.py``; attempts are recorded whatever the
order; refunds follow their own forward-only status. Events about PaymentIntents this
service did not create are acknowledged and left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.payments.attempts import attempt_from_event, card_of_charge
from service.payments.declines import FRAUD_CODES
from service.payments.event_common import EventResult, epoch, find_payment
from service.payments.models import Change, Payment
from service.payments.ports import PaymentsTx
from service.payments.refund_events import charge_refunded, refund_event
from service.payments.states import decide_transition, event_rank, status_for_event

# A Checkout async payment failure is the session's view of payment_intent.payment_failed:
# it ends the processing of the same payment, so it wins a same-second tie the same way.
_RANKED_AS = {"checkout.session.async_payment_failed": "payment_intent.payment_failed"}


async def apply_event(tx: PaymentsTx, event: dict[str, Any]) -> EventResult:
    kind: str = event["type"]
    obj: dict[str, Any] = event["data"]["object"]
    if kind.startswith("payment_intent."):
        return await _payment_intent_event(tx, event, obj)
    if kind.startswith("checkout.session."):
        return await _checkout_event(tx, event, obj)
    if kind.startswith("refund.") or kind == "charge.refund.updated":
        return await refund_event(tx, event, obj)
    if kind == "charge.refunded":
        return await charge_refunded(tx, event, obj)
    if kind in _CHARGE_OUTCOMES:
        return await _charge_card(tx, obj)
    return EventResult("ignored")


def _status_change(
    payment: Payment,
    event: dict[str, Any],
    status: str | None,
    fields: dict[str, Any],
    data: dict[str, Any],
) -> Change | None:
    if status is None:
        return None
    created = int(event["created"])
    rank = event_rank(_RANKED_AS.get(event["type"], event["type"]), status)
    transition = decide_transition(
        payment.status,
        epoch(payment.stripe_state_at),
        status,
        created,
        current_rank=payment.stripe_state_rank,
        incoming_rank=rank,
    )
    if not transition.apply:
        data["ignored_because"] = transition.reason
        return None
    return Change(
        kind=event["type"],
        cause_type="stripe_event",
        cause_id=event["id"],
        status=status,
        fields=fields,
        data=data,
        stripe_state_at=datetime.fromtimestamp(created, UTC),
        stripe_state_rank=rank,
    )


_CHARGE_OUTCOMES = frozenset({"charge.succeeded", "charge.failed", "charge.pending"})


async def _charge_card(tx: PaymentsTx, charge: dict[str, Any]) -> EventResult:
    """A charge event arriving after its PaymentIntent event completes that attempt's card.

    Card details are history, not status: no version, no push (the next update or a read
    of /attempts shows them).
    """
    brand, last4 = card_of_charge(charge)
    if brand is None:
        return EventResult("no_change")
    filled = await tx.fill_attempt_card(charge["id"], brand, last4)
    return EventResult("applied" if filled else "no_change")


async def _payment_intent_event(
    tx: PaymentsTx, event: dict[str, Any], intent: dict[str, Any]
) -> EventResult:
    payment = await find_payment(tx, intent, intent=intent["id"], session=None)
    if payment is None:
        return EventResult("not_ours")
    attempt = attempt_from_event(event)
    if attempt and attempt["stripe_charge_id"] and not attempt["card_brand"]:
        # PaymentIntent events name the charge; the card is on the charge's own event.
        charge = await tx.charge_card(attempt["stripe_charge_id"])
        if charge is not None:
            attempt["card_brand"], attempt["card_last4"] = card_of_charge(charge)
    recorded = bool(attempt) and await tx.add_attempt(payment.id, attempt or {})
    ids: dict[str, Any] = {}
    if payment.stripe_payment_intent_id is None:
        ids["stripe_payment_intent_id"] = intent["id"]
    status = status_for_event(event["type"], intent.get("status"))
    data: dict[str, Any] = {"stripe_status": intent.get("status")}
    if recorded and attempt:
        data["attempt"] = _attempt_summary(attempt)
    fields = ids | intent_amounts(payment, intent, status)
    change = _status_change(payment, event, status, fields, data)
    if change is None and (recorded or ids):
        change = Change(
            kind="attempt_recorded" if recorded else "stripe_ids_attached",
            cause_type="stripe_event",
            cause_id=event["id"],
            fields=ids,
            data={**data, "event_type": event["type"]},
        )
    return await _save(tx, payment, change, attempt_recorded=recorded)


async def _save(
    tx: PaymentsTx, payment: Payment, change: Change | None, *, attempt_recorded: bool = False
) -> EventResult:
    """Apply a change. One that shows nothing new (e.g. payment_intent.created on a payment
    already requiring a method) only moves the ordering watermark: no version, no push."""
    if change is None:
        return EventResult.of(payment, changed=False)
    invisible = change.status in (None, payment.status) and all(
        getattr(payment, name) == value for name, value in change.fields.items()
    )
    if invisible and not attempt_recorded:
        if change.stripe_state_at is not None:
            await tx.touch_stripe_state(
                payment.id, change.stripe_state_at, change.stripe_state_rank
            )
        return EventResult.of(payment, changed=False)
    return EventResult.of(await tx.apply_change(payment, change), changed=True)


def intent_amounts(
    payment: Payment, intent: Mapping[str, Any], status: str | None
) -> dict[str, Any]:
    """The payment's columns a PaymentIntent in `status` sets (webhooks and reconciliation)."""
    fields: dict[str, Any] = {}
    received = intent.get("amount_received")
    if status == "succeeded" and isinstance(received, int) and 0 < received <= payment.amount:
        fields["amount_captured"] = max(received, payment.amount_refunded)
    capturable = intent.get("amount_capturable")
    if isinstance(capturable, int) and 0 <= capturable <= payment.amount:
        fields["amount_capturable"] = capturable
    if status == "canceled" and payment.flow == "checkout_session":
        # A Checkout Session's PaymentIntent cannot be canceled directly, only by the
        # session expiring, and whichever of the two events lands first is final.
        fields["cancellation_reason"] = "expired"
    elif status == "canceled" and intent.get("cancellation_reason"):
        fields["cancellation_reason"] = intent["cancellation_reason"]
    return fields


def _attempt_summary(attempt: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "outcome",
        "error_code",
        "decline_code",
        "advice_next_step",
        "advice_retryable",
        "advice_message",
        "card_brand",
        "card_last4",
    )
    summary = {key: attempt[key] for key in keys if attempt.get(key) is not None}
    if summary.get("decline_code") in FRAUD_CODES:
        # The timeline is replayed to the browser: a fraud decline must look generic (§7).
        summary["decline_code"] = "generic_decline"
    return summary


async def _checkout_event(
    tx: PaymentsTx, event: dict[str, Any], session: dict[str, Any]
) -> EventResult:
    intent = session.get("payment_intent")
    intent_id = intent if isinstance(intent, str) else None
    payment = await find_payment(tx, session, intent=None, session=session["id"])
    if payment is None:
        return EventResult("not_ours")
    fields: dict[str, Any] = {}
    if intent_id and payment.stripe_payment_intent_id is None:
        fields["stripe_payment_intent_id"] = intent_id
    payment_status = session.get("payment_status")
    status = status_for_event(
        event["type"], payment_status if isinstance(payment_status, str) else None
    )
    total = session.get("amount_total")
    if status == "succeeded" and isinstance(total, int) and 0 < total <= payment.amount:
        fields["amount_captured"] = total
    if status == "canceled":
        fields["cancellation_reason"] = "expired"
    data: dict[str, Any] = {
        "checkout_status": session.get("status"),
        "payment_status": payment_status,
    }
    return await _save(tx, payment, _status_change(payment, event, status, fields, data))
