"""The user-sync rules on their own: parsing Clerk's payloads, and ordering as a property
(whatever order Svix delivers updates and a deletion in, the result is the same)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.emulator.clerk.events import deleted_event, event, user_object
from service.identity.models import CustomerRecord
from service.identity.user_sync import (
    InvalidUserEvent,
    UserEvent,
    decide,
    full_name,
    parse_user_event,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def empty_customer(external_id: str = "user_1") -> CustomerRecord:
    return CustomerRecord(
        id=uuid.uuid4(),
        external_id=external_id,
        email=None,
        first_name=None,
        last_name=None,
        name=None,
        stripe_customer_id=None,
        identity_updated_at=None,
        deleted_at=None,
        created_at=NOW,
    )


def apply(customer: CustomerRecord, ev: UserEvent) -> CustomerRecord:
    """What the repository does with a decision (save_identity), in memory."""
    change = decide(customer, ev).change
    if change is None:
        return customer
    return replace(
        customer,
        email=change.email,
        first_name=change.first_name,
        last_name=change.last_name,
        name=change.name,
        identity_updated_at=change.identity_updated_at or customer.identity_updated_at,
        deleted_at=customer.deleted_at or (NOW if change.deleted else None),
    )


def update(n: int, kind: str = "user.updated") -> dict[str, Any]:
    data = user_object("user_1", f"v{n}@example.com", f"First{n}", None, created_at=0, updated_at=n)
    return event(kind, data, timestamp=n)


def test_parses_the_primary_email_and_names() -> None:
    payload = update(7, "user.created")
    parsed = parse_user_event(payload)
    assert parsed is not None
    assert parsed.user is not None
    assert (parsed.type, parsed.user.email, parsed.user.first_name, parsed.user.updated_at) == (
        "user.created",
        "v7@example.com",
        "First7",
        7,
    )
    payload["data"]["email_addresses"].insert(
        0, {"id": "idn_other", "email_address": "secondary@example.com"}
    )
    reparsed = parse_user_event(payload)
    assert reparsed is not None
    assert reparsed.user is not None
    assert reparsed.user.email == "v7@example.com"  # the primary one, wherever it is listed


def test_other_types_are_not_user_events() -> None:
    assert parse_user_event(event("session.created", {"id": "sess"}, timestamp=1)) is None
    assert parse_user_event("not an object") is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"object": "user"},
        {"id": "", "updated_at": 1},
        {"id": "user_1"},
        {"id": "user_1", "updated_at": True},
        {"id": "user_1", "updated_at": 1, "first_name": 5},
        {"id": "user_1", "updated_at": 1, "email_addresses": "nope"},
    ],
)
def test_unappliable_user_events(data: Any) -> None:
    with pytest.raises(InvalidUserEvent):
        parse_user_event({"type": "user.updated", "data": data})


def test_full_name() -> None:
    assert full_name("Ada", "Lovelace") == "Ada Lovelace"
    assert full_name(None, "Lovelace") == "Lovelace"
    assert full_name(None, None) is None


@given(st.permutations(list(range(1, 7))))
def test_updates_in_any_order_end_at_the_newest(order: list[int]) -> None:
    customer = empty_customer()
    for n in order:
        parsed = parse_user_event(update(n))
        assert parsed is not None
        customer = apply(customer, parsed)
    assert customer.email == "v6@example.com"
    assert customer.identity_updated_at == 6


@given(st.permutations([*range(1, 5), "deleted"]))
def test_a_deletion_wins_whenever_it_arrives(order: list[int | str]) -> None:
    customer = replace(empty_customer(), stripe_customer_id="cus_1")
    for item in order:
        payload = deleted_event("user_1", timestamp=0) if item == "deleted" else update(int(item))
        parsed = parse_user_event(payload)
        assert parsed is not None
        customer = apply(customer, parsed)
    assert customer.deleted_at is not None
    assert (customer.email, customer.first_name, customer.last_name, customer.name) == (None,) * 4


def test_the_stripe_customer_is_pushed_only_when_email_or_name_change() -> None:
    customer = empty_customer()
    first = parse_user_event(update(1))
    assert first is not None
    decision = decide(customer, first)
    assert decision.change is not None
    assert decision.change.push_to_stripe
    customer = apply(customer, first)
    same = update(2)
    same["data"]["email_addresses"][0]["email_address"] = "v1@example.com"
    same["data"]["first_name"] = "First1"
    parsed = parse_user_event(same)
    assert parsed is not None
    change = decide(customer, parsed).change
    assert change is not None
    assert not change.push_to_stripe  # newer record, same email and name
