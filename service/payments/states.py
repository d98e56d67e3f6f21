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
# second: ``event_rules`` ranks events, not only statuses, for that. Both final statuses
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


def status_rank(status: str) -> int:
    """Tie-break rank of a status, scaled so events can sit between (``DECLINE_RANK``)."""
    return RANK[status] * 10 if status in RANK else -1


# A decline leaves the status at requires_payment_method (rank 0), yet it comes after
# requires_action or processing of the same confirmation: 3-D Secure failed within the
# second is common, a new challenge within the same second after a decline is not.
DECLINE_RANK: Final = RANK["processing"] * 10 + 5


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

    Ranks default to the statuses' own (``RANK``); pass the events' ranks (``event_rules``) to break
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
    current = status_rank(current_status) if current_rank is None else current_rank
    incoming = status_rank(incoming_status) if incoming_rank is None else incoming_rank
    if incoming > current:
        return Transition(True, "same_time_later_status")
    return Transition(False, "same_time_not_later")
