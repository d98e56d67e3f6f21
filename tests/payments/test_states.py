from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.payments.event_rules import attempt_outcome, status_for_event
from service.payments.states import (
    FINAL_STATUSES,
    RANK,
    STATUSES,
    Transition,
    decide_transition,
    is_final,
    is_open,
)

Event = tuple[str, int]  # (status, created)


def fold(events: list[Event]) -> tuple[str | None, int | None]:
    status: str | None = None
    state_at: int | None = None
    for incoming, created in events:
        if decide_transition(status, state_at, incoming, created).apply:
            status, state_at = incoming, created
    return status, state_at


def test_statuses() -> None:
    assert set(STATUSES) == set(RANK)
    assert {"succeeded", "canceled"} == FINAL_STATUSES
    assert is_final("succeeded")
    assert is_final("canceled")
    assert not is_open("succeeded")
    assert is_open("requires_action")
    assert not is_open("bogus")


@pytest.mark.parametrize(
    ("current", "at", "incoming", "created", "expected"),
    [
        (None, None, "requires_payment_method", 10, Transition(True, "first_state")),
        ("requires_payment_method", None, "processing", 10, Transition(True, "first_state")),
        ("requires_action", 10, "requires_payment_method", 11, Transition(True, "newer_event")),
        ("processing", 10, "requires_action", 9, Transition(False, "older_event")),
        ("requires_action", 10, "processing", 10, Transition(True, "same_time_later_status")),
        ("processing", 10, "requires_action", 10, Transition(False, "same_time_not_later")),
        ("processing", 10, "processing", 10, Transition(False, "same_time_not_later")),
        ("processing", 10, "succeeded", 10, Transition(True, "same_time_later_status")),
        ("succeeded", 10, "canceled", 99, Transition(False, "current_is_final")),
        ("canceled", 10, "succeeded", 99, Transition(False, "current_is_final")),
        ("succeeded", 10, "requires_action", 99, Transition(False, "current_is_final")),
        ("processing", 10, "bogus", 99, Transition(False, "unknown_status")),
    ],
)
def test_decide_transition(
    current: str | None, at: int | None, incoming: str, created: int, expected: Transition
) -> None:
    assert decide_transition(current, at, incoming, created) == expected


def test_unknown_stored_status_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown stored status"):
        decide_transition("bogus", 1, "processing", 2)


@pytest.mark.parametrize(
    ("event_type", "object_status", "expected"),
    [
        ("payment_intent.created", "requires_payment_method", "requires_payment_method"),
        ("payment_intent.payment_failed", "requires_payment_method", "requires_payment_method"),
        ("payment_intent.succeeded", "succeeded", "succeeded"),
        ("payment_intent.amount_capturable_updated", "requires_capture", "requires_capture"),
        ("payment_intent.succeeded", "weird", None),
        ("payment_intent.succeeded", None, None),
        ("checkout.session.completed", "paid", "succeeded"),
        ("checkout.session.completed", "unpaid", "processing"),
        ("checkout.session.completed", "no_payment_required", None),
        ("checkout.session.completed", None, None),
        ("checkout.session.async_payment_succeeded", None, "succeeded"),
        ("checkout.session.async_payment_failed", None, "requires_payment_method"),
        ("checkout.session.expired", "open", "canceled"),
        ("charge.refunded", "succeeded", None),
        ("customer.created", None, None),
    ],
)
def test_status_for_event(event_type: str, object_status: str | None, expected: str | None) -> None:
    assert status_for_event(event_type, object_status) == expected


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("payment_intent.succeeded", "succeeded"),
        ("payment_intent.payment_failed", "failed"),
        ("payment_intent.requires_action", "requires_action"),
        ("payment_intent.processing", "processing"),
        ("payment_intent.canceled", "canceled"),
        ("payment_intent.created", None),
        ("payment_intent.amount_capturable_updated", None),
        ("checkout.session.completed", None),
        ("charge.refunded", None),
    ],
)
def test_attempt_outcome(event_type: str, expected: str | None) -> None:
    assert attempt_outcome(event_type) == expected


# Realistic lifecycles, in true order; the last event is where Stripe really ended up.
LIFECYCLES: list[list[str]] = [
    [
        "requires_payment_method",
        "requires_action",
        "requires_payment_method",
        "processing",
        "succeeded",
    ],
    ["requires_payment_method", "processing", "succeeded"],
    ["requires_payment_method", "requires_action", "requires_payment_method", "canceled"],
    [
        "requires_payment_method",
        "requires_confirmation",
        "processing",
        "requires_capture",
        "succeeded",
    ],
    [
        "requires_payment_method",
        "requires_action",
        "processing",
        "requires_payment_method",
        "requires_action",
        "processing",
        "succeeded",
    ],
]


@st.composite
def timed_lifecycle(draw: st.DrawFn) -> list[Event]:
    """A lifecycle with non-decreasing `created` times; a tie only where rank rises,
    which is what one-second resolution can produce for one confirmation."""
    statuses = draw(st.sampled_from(LIFECYCLES))
    events: list[Event] = []
    t = draw(st.integers(min_value=1_600_000_000, max_value=1_800_000_000))
    for i, status in enumerate(statuses):
        if i:
            can_tie = RANK[status] > RANK[statuses[i - 1]]
            t += draw(st.integers(min_value=0 if can_tie else 1, max_value=3))
        events.append((status, t))
    return events


@given(st.data())
def test_any_delivery_order_ends_where_in_order_does(data: st.DataObject) -> None:
    events = data.draw(timed_lifecycle())
    shuffled = data.draw(st.permutations(events))
    assert fold(shuffled)[0] == fold(events)[0] == events[-1][0]


@given(st.data())
def test_duplicates_and_redelivery_change_nothing(data: st.DataObject) -> None:
    events = data.draw(timed_lifecycle())
    noisy = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))
    assert fold(noisy) == fold(events)


@given(
    st.lists(st.tuples(st.sampled_from(STATUSES), st.integers(0, 20)), max_size=12),
    st.sampled_from(sorted(FINAL_STATUSES)),
    st.integers(0, 20),
)
def test_final_status_never_regresses(events: list[Event], final: str, created: int) -> None:
    status: str | None = final
    state_at: int | None = created
    for incoming, at in events:
        assert not decide_transition(status, state_at, incoming, at).apply
    assert (status, state_at) == (final, created)


@given(
    st.none() | st.sampled_from(STATUSES),
    st.none() | st.integers(0, 20),
    st.sampled_from(STATUSES),
    st.integers(0, 20),
)
def test_applying_an_event_twice_is_idempotent(
    current: str | None, at: int | None, incoming: str, created: int
) -> None:
    if decide_transition(current, at, incoming, created).apply:
        current, at = incoming, created
    assert not decide_transition(current, at, incoming, created).apply
