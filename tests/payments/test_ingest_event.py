"""The inbox pipeline's transactions (``ingest_event``): a first delivery's inbox row goes
in with its change, in four round trips; a repeat, an earlier failed try's row and a
flagged event are told apart by the inbox, each stored once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asyncpg.connection import LoggedQuery

from service.db.pool import Pool, create_pool
from service.db.store import PgStore
from service.payments.ingest_event import ingest_event
from tests.support.payments import new_payment
from tests.support.webhooks import card_error, intent, make_event


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    yield pool
    await pool.close()


@pytest.fixture
async def store(pool: Pool) -> PgStore:
    return PgStore(pool, notify_merchants=False)


def _declined(pi_id: str) -> dict[str, Any]:
    failed = intent(
        pi_id,
        "requires_payment_method",
        last_payment_error=card_error("card_declined", "insufficient_funds"),
    )
    return make_event("payment_intent.payment_failed", failed)


async def _sent(pool: Pool, event: dict[str, Any], store: PgStore) -> tuple[str, list[str]]:
    """The outcome, and the statements sent (their first words)."""
    sent: list[str] = []

    def record(query: LoggedQuery) -> None:
        sent.append(" ".join(query.query.split())[:40])

    async with pool.acquire() as conn:
        conn.add_query_logger(record)
    try:
        result = await ingest_event(event, store=store, livemode=False)
    finally:
        async with pool.acquire() as conn:
            conn.remove_query_logger(record)
    return result.outcome, sent


async def _processed(pool: Pool, event_id: str) -> tuple[int, str | None]:
    """The event's inbox row, which must be there and processed: (failures, last_error)."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT processed_at, failures, last_error FROM stripe_events WHERE id = $1",
            event_id,
        )
    assert row is not None
    assert row["processed_at"] is not None
    return row["failures"], row["last_error"]


async def _state(pool: Pool, payment_id: uuid.UUID) -> tuple[int, int]:
    async with pool.acquire() as conn:
        version = await conn.fetchval("SELECT version FROM payments WHERE id = $1", payment_id)
        attempts = await conn.fetchval(
            "SELECT count(*) FROM payment_attempts WHERE payment_id = $1", payment_id
        )
    return version, attempts


async def test_a_first_delivery_is_four_round_trips(pool: Pool, store: PgStore) -> None:
    payment, pi_id = await new_payment(store)
    event = _declined(pi_id)
    outcome, sent = await _sent(pool, event, store)
    assert outcome == "applied"
    # BEGIN, the payment's lock, the change with its attempt and inbox row, COMMIT.
    assert len(sent) == 4, sent
    assert sent[2].startswith("WITH changed AS (UPDATE payments")
    assert await _processed(pool, event["id"]) == (0, None)
    assert await _state(pool, payment.id) == (2, 1)


async def test_a_repeat_rolls_back_and_is_a_duplicate(pool: Pool, store: PgStore) -> None:
    payment, pi_id = await new_payment(store)
    event = _declined(pi_id)
    assert (await _sent(pool, event, store))[0] == "applied"
    outcome, sent = await _sent(pool, event, store)
    assert outcome == "duplicate"
    # The first try met the stored row and rolled back; the second claimed it first.
    assert sent.count("ROLLBACK;") == 1, sent
    assert sent[-1] == "COMMIT;"
    assert await _state(pool, payment.id) == (2, 1)


async def test_an_earlier_failed_try_is_applied_and_marked(pool: Pool, store: PgStore) -> None:
    payment, pi_id = await new_payment(store)
    event = _declined(pi_id)
    async with store.transaction() as tx:  # as ingest_event notes a failure
        await tx.inbox_record_failure(event, "boom")
    assert (await _sent(pool, event, store))[0] == "applied"
    assert await _processed(pool, event["id"]) == (1, None)
    assert await _state(pool, payment.id) == (2, 1)


async def test_a_flagged_event_is_stored_with_why(pool: Pool, store: PgStore) -> None:
    payment, pi_id = await new_payment(store)
    event = {**_declined(pi_id), "livemode": True}  # our key is a test key
    outcome, sent = await _sent(pool, event, store)
    assert outcome == "mismatch"
    assert len(sent) == 3, sent  # BEGIN, the inbox row with its reason, COMMIT
    assert (await _processed(pool, event["id"]))[1] == "mismatch: livemode"
    assert await _state(pool, payment.id) == (1, 0)
    assert (await _sent(pool, event, store))[0] == "duplicate"


async def test_an_event_that_changes_nothing_is_stored(pool: Pool, store: PgStore) -> None:
    event = _declined(f"pi_{uuid.uuid4().hex[:24]}")  # no payment of ours
    assert (await _sent(pool, event, store))[0] == "not_ours"
    await _processed(pool, event["id"])
    assert (await _sent(pool, event, store))[0] == "duplicate"
