"""What each Stripe event does, in one table: its handler, the PaymentIntent status it
implies, the attempt it records and the rank that breaks same-second ties (DESIGN §4).

Webhooks (``apply_event``) and reconciliation read it alike. Adding an event type means
one row here and, if none of the handlers fits, one handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from service.payments.attempts import attempt_of
from service.payments.checkout_events import checkout_event
from service.payments.event_common import EventResult, EventRule
from service.payments.intent_events import charge_card, intent_event
from service.payments.models import AttemptOutcome, NewAttempt
from service.payments.ports import PaymentsTx
from service.payments.refund_events import charge_refunded, refund_event
from service.payments.states import DECLINE_RANK, RANK, status_rank
from service.payments.stripe_objects import StripeEvent, parse_event, parse_payment_intent


def _object_status(status: str | None) -> str | None:
    """A PaymentIntent event implies the status its object has, when it is one we know."""
    return status if status in RANK else None


def _paid(payment_status: str | None) -> str | None:
    """checkout.session.completed: "unpaid" means an async method (e.g. a bank debit)
    is still on its way."""
    return {"paid": "succeeded", "unpaid": "processing"}.get(payment_status or "")


def _always(status: str) -> Callable[[str | None], str | None]:
    return lambda _: status


def _none(_: str | None) -> None:
    return None


def _intent(attempt: AttemptOutcome | None = None, rank: int | None = None) -> EventRule:
    return EventRule(intent_event, _object_status, attempt, rank, optimistic=attempt is not None)


# Attempts come only from payment_intent.* events: a Checkout payment also emits them,
# so counting checkout.session.* events too would record each attempt twice.
RULES: Final[Mapping[str, EventRule]] = {
    "payment_intent.created": _intent(),
    "payment_intent.requires_action": _intent("requires_action"),
    "payment_intent.processing": _intent("processing"),
    "payment_intent.amount_capturable_updated": _intent(),
    "payment_intent.partially_funded": _intent(),
    "payment_intent.succeeded": _intent("succeeded"),
    "payment_intent.payment_failed": _intent("failed", DECLINE_RANK),
    "payment_intent.canceled": _intent("canceled"),
    "checkout.session.completed": EventRule(checkout_event, _paid),
    "checkout.session.async_payment_succeeded": EventRule(checkout_event, _always("succeeded")),
    # The session's view of payment_intent.payment_failed: ranked as that decline.
    "checkout.session.async_payment_failed": EventRule(
        checkout_event, _always("requires_payment_method"), rank=DECLINE_RANK
    ),
    "checkout.session.expired": EventRule(checkout_event, _always("canceled")),
    "refund.created": EventRule(refund_event, _none),
    "refund.updated": EventRule(refund_event, _none),
    "refund.failed": EventRule(refund_event, _none),
    "charge.refund.updated": EventRule(refund_event, _none),
    "charge.refunded": EventRule(charge_refunded, _none),
    "charge.succeeded": EventRule(charge_card, _none),
    "charge.failed": EventRule(charge_card, _none),
    "charge.pending": EventRule(charge_card, _none),
}

# Types Stripe may add within these families behave like the family's plain events.
_FAMILIES: Final[Mapping[str, EventRule]] = {
    "payment_intent.": _intent(),
    "checkout.session.": EventRule(checkout_event, _none),
    "refund.": EventRule(refund_event, _none),
}
# Events of these families are about an object with an id (others, such as
# balance.available, may have none and are acknowledged and ignored).
OBJECT_FAMILIES: Final[tuple[str, ...]] = (*_FAMILIES, "charge.")


def rule_for(event_type: str) -> EventRule | None:
    """The rule of an event type; None: the event is acknowledged and ignored."""
    rule = RULES.get(event_type)
    if rule is None:
        rule = next((r for p, r in _FAMILIES.items() if event_type.startswith(p)), None)
    return rule


async def dispatch(tx: PaymentsTx, event: StripeEvent) -> EventResult:
    rule = rule_for(event.type)
    return EventResult("ignored") if rule is None else await rule.handler(tx, event, rule)


def status_for_event(event_type: str, object_status: str | None) -> str | None:
    """The PaymentIntent status an event implies, or None if it implies none.

    `object_status` is the event object's `status` for payment_intent.* events and the
    session's `payment_status` for checkout.session.completed.
    """
    rule = rule_for(event_type)
    return rule.status(object_status) if rule else None


def attempt_outcome(event_type: str) -> AttemptOutcome | None:
    """The payment_attempts outcome an event records, or None if it is not an attempt."""
    rule = RULES.get(event_type)
    return rule.attempt if rule else None


def event_rank(event_type: str, status: str) -> int:
    """Tie-break rank of the event that set a status (``states.decide_transition``)."""
    rule = rule_for(event_type)
    return rule.rank_of(status) if rule else status_rank(status)


def intent_state_rank(status: str, *, declined: bool) -> int:
    """A PaymentIntent state's rank as the event that leads to it (reconciliation): back
    to requires_payment_method with an error is a decline."""
    if declined and status == "requires_payment_method":
        return event_rank("payment_intent.payment_failed", status)
    return event_rank(f"payment_intent.{status}", status)


def attempt_from_event(event: Mapping[str, Any]) -> NewAttempt | None:
    """The attempt an event records, or None if it is not an attempt."""
    outcome = attempt_outcome(str(event.get("type")))
    if outcome is None:
        return None
    parsed = parse_event(event)
    return attempt_of(outcome, parsed, parse_payment_intent(parsed.object))
