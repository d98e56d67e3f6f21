"""What the event handlers share: their rule and result, finding the payment an object is
about, and turning a status the event implies into a change (or only a newer watermark)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from service.payments.event_binding import Mismatch
from service.payments.models import AttemptOutcome, Change, Payment, PaymentUpdate
from service.payments.ports import PaymentsTx
from service.payments.states import decide_transition, status_rank
from service.payments.stripe_objects import StripeEvent

# unusable: a signed event that can never apply; mismatch: one that names a payment it
# does not belong to (``event_binding.py``). Both are stored, acknowledged and flagged.
Outcome = Literal[
    "applied", "no_change", "not_ours", "ignored", "duplicate", "unusable", "mismatch"
]


@dataclass(frozen=True, slots=True)
class EventResult:
    outcome: Outcome
    payment_id: UUID | None = None
    version: int | None = None
    reason: str | None = None  # why an event is unusable or a mismatch

    @classmethod
    def of(cls, payment: Payment, changed: bool) -> EventResult:
        return cls("applied" if changed else "no_change", payment.id, payment.version)


Handler = Callable[[PaymentsTx, StripeEvent, "EventRule"], Awaitable[EventResult]]


@dataclass(frozen=True, slots=True)
class EventRule:
    """What one Stripe event type does (the table is ``event_rules.py``).

    `status` maps the object's status (a session's `payment_status` for Checkout) to the
    PaymentIntent status the event implies, or None; `attempt` is the payment_attempts
    outcome it records; `rank` breaks same-second ties (None: the status's own rank);
    `optimistic`: tried first without the payment's lock (``TransactionalStore.optimistic``),
    for events that end in one change (an attempt recorded always is one).
    """

    handler: Handler
    status: Callable[[str | None], str | None]
    attempt: AttemptOutcome | None = None
    rank: int | None = None
    optimistic: bool = False

    def rank_of(self, status: str) -> int:
        return self.rank if self.rank is not None else status_rank(status)


def mismatch_result(found: Mismatch) -> EventResult:
    return EventResult("mismatch", found.payment_id, reason=found.reason)


def epoch(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


async def find_payment(
    tx: PaymentsTx, ours: UUID | None, *, intent: str | None, session: str | None
) -> Payment | None:
    """By Stripe id, else by `ours`: the paylive_payment_id we put in the metadata."""
    payment = await tx.get_payment_by_stripe_id(
        payment_intent=intent, checkout_session=session, for_update=True
    )
    if payment is None and ours is not None:
        payment = await tx.get_payment(ours, for_update=True)
        if payment is not None and (
            (intent and payment.stripe_payment_intent_id not in (None, intent))
            or (session and payment.stripe_checkout_session_id not in (None, session))
        ):
            # metadata copied onto some other PaymentIntent or Checkout Session: not ours
            return None
    return payment


def status_change(
    payment: Payment,
    event: StripeEvent,
    rule: EventRule,
    status: str | None,
    update: PaymentUpdate,
    data: dict[str, Any],
) -> Change | None:
    """The change an event's `status` makes under the ordering rules, or None (the
    reason a status was not applied is noted in `data`)."""
    if status is None:
        return None
    rank = rule.rank_of(status)
    transition = decide_transition(
        payment.status,
        epoch(payment.stripe_state_at),
        status,
        event.created,
        current_rank=payment.stripe_state_rank,
        incoming_rank=rank,
    )
    if not transition.apply:
        data["ignored_because"] = transition.reason
        return None
    return Change(
        kind=event.type,
        cause_type="stripe_event",
        cause_id=event.id,
        status=status,
        update=update,
        data=data,
        stripe_state_at=event.at,
        stripe_state_rank=rank,
    )


async def save(
    tx: PaymentsTx, payment: Payment, change: Change | None, *, attempt_recorded: bool = False
) -> EventResult:
    """Apply a change. One that shows nothing new (e.g. payment_intent.created on a payment
    already requiring a method) only moves the ordering watermark: no version, no push."""
    if change is None:
        return EventResult.of(payment, changed=False)
    invisible = change.status in (None, payment.status) and not change.update.changes(payment)
    if invisible and not attempt_recorded:
        if change.stripe_state_at is not None:
            await tx.touch_stripe_state(
                payment.id, change.stripe_state_at, change.stripe_state_rank
            )
        return EventResult.of(payment, changed=False)
    return EventResult.of(await tx.apply_change(payment, change), changed=True)
