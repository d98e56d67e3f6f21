"""PaymentIntent status rules for out-of-order webhooks (DESIGN §4), pure.

Stripe does not order events, so an incoming status replaces the stored one only if
it is newer. "Newer" is the pair (event `created`, lifecycle rank) compared
lexicographically; the pair only ever grows, so folding a set of events gives the same
result in any order. Final statuses (succeeded, canceled) stop everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Status = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
FINAL_STATUSES: Final[frozenset[str]] = frozenset({"succeeded", "canceled"})

# Order of forward progress within one confirmation. `created` has one-second
# resolution, so several events of one confirmation often share a second; ranking
# breaks the tie in favour of the status further along. A failure resets to
# requires_payment_method (rank 0) yet follows requires_action or processing of the same
# second: ``event_rank`` ranks events, not only statuses, for that. Both final statuses
# share the top rank: neither can follow the other.
RANK: Final[dict[str, int]] = {
    "requires_payment_method": 0,
    "requires_confirmation": 1,
    "requires_action": 2,
    "processing": 3,
    "requires_capture": 4,
    "succeeded": 5,
    "canceled": 5,
}

Reason = Literal[
    "first_state",  # nothing applied yet
    "newer_event",
    "same_time_later_status",
    "current_is_final",
    "older_event",
    "same_time_not_later",
    "unknown_status",
]


@dataclass(frozen=True, slots=True)
class Transition:
    apply: bool
    reason: Reason


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def is_open(status: str) -> bool:
    """A known status that can still change."""
    return status in RANK and status not in FINAL_STATUSES


def event_rank(event_type: str, status: str) -> int:
    """Tie-break rank of the event that set a status, scaled so events can sit between.

    A decline leaves the status at requires_payment_method (rank 0), yet it comes after
    requires_action or processing of the same confirmation: 3-D Secure failed within the
    second is common, a new challenge within the same second after a decline is not.
    """
    if event_type == "payment_intent.payment_failed":
        return RANK["processing"] * 10 + 5
    return RANK[status] * 10 if status in RANK else -1


def decide_transition(
    current_status: str | None,
    current_state_at: int | None,
    incoming_status: str,
    incoming_created: int,
    *,
    current_rank: int | None = None,
    incoming_rank: int | None = None,
) -> Transition:
    """Should an event's status replace the stored one? (Attempts are recorded regardless.)

    Ranks default to the statuses' own (``RANK``); pass ``event_rank`` values to break
    same-second ties by the events that set them.
    """
    if incoming_status not in RANK:
        return Transition(False, "unknown_status")
    if current_status is not None and current_status not in RANK:
        raise ValueError(f"unknown stored status {current_status!r}")
    if current_status is not None and is_final(current_status):
        return Transition(False, "current_is_final")
    if current_status is None or current_state_at is None:
        return Transition(True, "first_state")
    if incoming_created > current_state_at:
        return Transition(True, "newer_event")
    if incoming_created < current_state_at:
        return Transition(False, "older_event")
    current = RANK[current_status] * 10 if current_rank is None else current_rank
    incoming = RANK[incoming_status] * 10 if incoming_rank is None else incoming_rank
    if incoming > current:
        return Transition(True, "same_time_later_status")
    return Transition(False, "same_time_not_later")


_CHECKOUT_STATUS: Final[dict[str, str]] = {
    "checkout.session.async_payment_succeeded": "succeeded",
    "checkout.session.async_payment_failed": "requires_payment_method",
    "checkout.session.expired": "canceled",
}


def status_for_event(event_type: str, object_status: str | None) -> str | None:
    """The PaymentIntent status an event implies, or None if it implies none.

    `object_status` is the event object's `status` for payment_intent.* events and the
    session's `payment_status` for checkout.session.completed.
    """
    if event_type.startswith("payment_intent."):
        return object_status if object_status in RANK else None
    if event_type == "checkout.session.completed":
        # "unpaid" means an async method (e.g. a bank debit) is still on its way.
        return {"paid": "succeeded", "unpaid": "processing"}.get(object_status or "")
    return _CHECKOUT_STATUS.get(event_type)


AttemptOutcome = Literal["succeeded", "failed", "requires_action", "processing", "canceled"]

# Only payment_intent.* events: a Checkout payment also emits them, so counting
# checkout.session.* events too would record each attempt twice.
_ATTEMPT_OUTCOME: Final[dict[str, AttemptOutcome]] = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.processing": "processing",
    "payment_intent.canceled": "canceled",
}


def attempt_outcome(event_type: str) -> AttemptOutcome | None:
    """The payment_attempts outcome an event records, or None if it is not an attempt."""
    return _ATTEMPT_OUTCOME.get(event_type)
