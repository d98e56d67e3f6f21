"""Signed but hostile events: whatever their objects hold, applying them never raises.

An event that can never apply comes back "unusable" (with a reason) before anything is
written; through the inbox it is stored, marked processed and flagged, so Stripe stops
retrying it. Real PostgreSQL throughout: the values must not fail there either.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.db.store import PgStore
from service.payments.apply_event import apply_event
from service.payments.ingest_event import ingest_event
from tests.support.payments import new_payment
from tests.support.store import against_the_database, run
from tests.support.webhooks import card_error, intent, make_event

T0 = 1_780_000_000

_UNSTORABLE_TEXT = st.sampled_from(["a\x00b", "\ud800", "pi_\udfff", "\x00"])
_STORABLE_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(_STORABLE_CHARS, max_size=8),
    st.lists(st.integers(), max_size=3),
    # Keys too: a NUL or lone surrogate in a key is as unstorable as in a value (those
    # bodies are quarantined at the HTTP edge: tests/http/test_hostile_input.py).
    st.dictionaries(st.text(_STORABLE_CHARS, max_size=3), st.integers(), max_size=3),
)

FIELDS = {
    "payment_intent.succeeded": [
        "id",
        "status",
        "metadata",
        "latest_charge",
        "payment_method",
        "amount_received",
        "amount_capturable",
    ],
    "payment_intent.payment_failed": ["status", "last_payment_error", "metadata"],
    "payment_intent.canceled": ["status", "cancellation_reason", "amount_capturable"],
    "checkout.session.completed": [
        "id",
        "payment_intent",
        "payment_status",
        "status",
        "amount_total",
        "metadata",
    ],
    "refund.updated": [
        "id",
        "amount",
        "status",
        "reason",
        "failure_reason",
        "payment_intent",
        "metadata",
    ],
    "charge.refunded": ["id", "captured", "amount_refunded", "refunds", "metadata"],
    "charge.succeeded": ["id", "payment_method_details"],
}


def base_object(event_type: str, pi_id: str) -> dict[str, Any]:
    """A realistic object of the event's type about the payment with `pi_id`."""
    if event_type.startswith("payment_intent."):
        status = {"payment_intent.payment_failed": "requires_payment_method"}.get(
            event_type, event_type.split(".")[1]
        )
        error = card_error("card_declined", "insufficient_funds")
        return intent(pi_id, status, latest_charge="ch_1", last_payment_error=error)
    if event_type.startswith("checkout."):
        return {"id": "cs_test_1", "payment_intent": pi_id, "payment_status": "paid"}
    if event_type.startswith("refund."):
        return {"id": "re_1", "amount": 500, "status": "succeeded", "payment_intent": pi_id}
    return {
        "id": "ch_1",
        "payment_intent": pi_id,
        "captured": True,
        "amount_refunded": 500,
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
    }


@st.composite
def hostile_events(
    draw: st.DrawFn, values: st.SearchStrategy[Any]
) -> tuple[str, dict[str, Any], int]:
    event_type = draw(st.sampled_from(sorted(FIELDS)))
    overrides = draw(st.dictionaries(st.sampled_from(FIELDS[event_type]), values, min_size=1))
    created = draw(st.one_of(st.just(T0), st.integers(min_value=-(2**40), max_value=2**45)))
    return event_type, overrides, created


async def _payment_state(store: PgStore, payment_id: Any) -> tuple[int, int]:
    async with store.transaction() as tx:
        payment = await tx.get_payment(payment_id)
        attempts = await tx.attempts(payment_id)
    assert payment is not None
    return payment.version, len(attempts)


@given(hostile_events(st.one_of(_JSON_VALUES, _UNSTORABLE_TEXT)))
@against_the_database(max_examples=60)
def test_apply_never_raises_on_hostile_objects(
    database_url: str, case: tuple[str, dict[str, Any], int]
) -> None:
    event_type, overrides, created = case

    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        event = make_event(event_type, base_object(event_type, pi_id) | overrides, created=created)
        before = await _payment_state(store, payment.id)
        async with store.transaction() as tx:
            result = await apply_event(tx, event)
        assert result.outcome in ("applied", "no_change", "not_ours", "unusable")
        if result.outcome == "unusable":
            assert result.reason
            assert await _payment_state(store, payment.id) == before  # nothing written

    run(database_url, body)


@given(hostile_events(_JSON_VALUES))
@against_the_database(max_examples=40)
def test_ingest_never_raises_on_hostile_objects(
    database_url: str, case: tuple[str, dict[str, Any], int]
) -> None:
    event_type, overrides, created = case

    async def body(store: PgStore) -> None:
        _, pi_id = await new_payment(store)
        event = make_event(event_type, base_object(event_type, pi_id) | overrides, created=created)
        result = await ingest_event(event, store=store)
        assert result.outcome in ("applied", "no_change", "not_ours", "unusable")
        assert (await ingest_event(event, store=store)).outcome == "duplicate"

    run(database_url, body)


@pytest.mark.parametrize(
    ("overrides", "created", "reason"),
    [
        ({}, 10**12, "created"),
        ({}, -5, "created"),
        ({"metadata": "not an object"}, T0, "metadata"),
        ({"metadata": ["a"]}, T0, "metadata"),
        ({"status": ["succeeded"]}, T0, "status"),
        ({"id": 12345}, T0, "id"),
        ({"cancellation_reason": {"a": 1}}, T0, "cancellation_reason"),
    ],
)
def test_unusable_events_are_stored_acknowledged_and_flagged(
    database_url: str, overrides: dict[str, Any], created: int, reason: str
) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        obj = intent(pi_id, "succeeded", amount_received=2500) | overrides
        event = make_event("payment_intent.succeeded", obj, created=created)
        before = await _payment_state(store, payment.id)
        result = await ingest_event(event, store=store)
        assert result.outcome == "unusable"
        assert result.reason is not None
        assert reason in result.reason
        assert await _payment_state(store, payment.id) == before
        async with store.transaction() as tx:
            row = await tx.conn.fetchrow(
                "SELECT processed_at, last_error FROM stripe_events WHERE id = $1", event["id"]
            )
        assert row is not None
        assert row["processed_at"] is not None
        assert row["last_error"].startswith("unusable: ")
        assert (await ingest_event(event, store=store)).outcome == "duplicate"

    run(database_url, body)


def test_unstorable_text_in_an_object_is_unusable(database_url: str) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        for bad in ("a\x00b", "\ud800"):
            error = card_error("card_declined", "insufficient_funds") | {"message": bad}
            obj = intent(pi_id, "requires_payment_method", last_payment_error=error)
            event = make_event("payment_intent.payment_failed", obj, created=T0)
            async with store.transaction() as tx:
                result = await apply_event(tx, event)
            assert (result.outcome, result.reason) == (
                "unusable",
                "last_payment_error cannot be stored",
            )
        assert await _payment_state(store, payment.id) == (payment.version, 0)

    run(database_url, body)
