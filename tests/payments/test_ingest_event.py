"""The inbox pipeline's round trips (``ingest_event``): a first delivery's inbox row goes
in with its change, in two round trips without a lock where the payment is still as read
(four, in a transaction, where it moved or the event needs more); a repeat, an earlier
failed try's row and a flagged event are told apart by the inbox, each stored once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
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


async def _sent(
    pool: Pool, event: dict[str, Any], store: PgStore, *, full: bool = False
) -> tuple[str, list[str]]:
    """The outcome, and the statements sent (their first words, or all with `full`)."""
    sent: list[str] = []

    def record(query: LoggedQuery) -> None:
        text = " ".join(query.query.split())
        sent.append(text if full else text[:40])

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


async def test_a_first_delivery_is_two_round_trips(pool: Pool, store: PgStore) -> None:
    payment, pi_id = await new_payment(store)
    event = _declined(pi_id)
    outcome, sent = await _sent(pool, event, store, full=True)
    assert outcome == "applied"
    # The payment read (no lock), then the change with its attempt and inbox row, written
    # only if the row is still the one read.
    assert len(sent) == 2, sent
    assert sent[0].startswith("SELECT")
    assert "FOR UPDATE" not in sent[0]
    assert "xmin" in sent[0]
    assert sent[1].startswith("WITH changed AS (UPDATE payments")
    assert "xmin = $16::xid" in sent[1]
    assert await _processed(pool, event["id"]) == (0, None)
    assert await _state(pool, payment.id) == (2, 1)


async def test_a_payment_written_since_it_was_read_goes_under_its_lock(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    """Another transaction writes the row between the optimistic read and write (only its
    watermark: the version alone would not tell): the guarded statement writes nothing,
    and the event is applied in a transaction, once."""
    payment, pi_id = await new_payment(store)
    event = _declined(pi_id)
    other = await asyncpg.connect(database_url)
    # Watched from outside `other`'s transaction: inside one, PostgreSQL answers every
    # read of pg_stat_activity from the snapshot its first read took.
    watcher = await asyncpg.connect(database_url)
    try:
        await other.execute("BEGIN")
        await other.execute(
            "UPDATE payments SET stripe_state_rank = coalesce(stripe_state_rank, 0) WHERE id = $1",
            payment.id,
        )
        applying = asyncio.create_task(_sent(pool, event, store, full=True))
        await _blocked_on_a_lock(watcher, payment.id)  # the optimistic write waits on it
        await other.execute("COMMIT")
        outcome, sent = await applying
    finally:
        await other.close()
        await watcher.close()
    assert outcome == "applied"
    assert [q.split()[0] for q in sent] == ["SELECT", "WITH", "BEGIN;", "SELECT", "WITH", "COMMIT;"]
    assert "FOR UPDATE" in sent[3]
    assert await _processed(pool, event["id"]) == (0, None)
    assert await _state(pool, payment.id) == (2, 1)  # one version, one attempt


async def _blocked_on_a_lock(conn: asyncpg.Connection, payment_id: uuid.UUID) -> None:
    """Returns once a change of the payment waits on a lock; `conn` in no transaction."""
    for _ in range(500):
        waiting = await conn.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND query LIKE 'WITH changed AS (UPDATE payments%'"""
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no optimistic write of {payment_id} waited on the row lock")


async def test_a_charge_not_stored_yet_sends_its_intent_event_under_the_lock(
    pool: Pool, store: PgStore
) -> None:
    """The card of a succeeded attempt is on its charge's event. Not stored yet, it may be
    in a transaction that holds the payment's lock: only under that lock is the order of
    the two sure, so the event goes there. Stored, the optimistic write takes its card."""
    _, pi_id = await new_payment(store)
    charge_id = f"ch_{uuid.uuid4().hex[:24]}"
    succeeded = intent(pi_id, "succeeded", latest_charge=charge_id)
    outcome, sent = await _sent(pool, make_event("payment_intent.succeeded", succeeded), store)
    assert outcome == "applied"
    assert "BEGIN;" in sent, sent
    other, other_pi = await new_payment(store)
    charge_id = f"ch_{uuid.uuid4().hex[:24]}"
    charge = {
        "id": charge_id,
        "object": "charge",
        "payment_intent": other_pi,
        "metadata": {"paylive_payment_id": str(other.id)},
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
    }
    assert (await _sent(pool, make_event("charge.succeeded", charge), store))[0] == "no_change"
    succeeded = intent(other_pi, "succeeded", latest_charge=charge_id)
    outcome, sent = await _sent(pool, make_event("payment_intent.succeeded", succeeded), store)
    assert outcome == "applied"
    assert "BEGIN;" not in sent
    assert len(sent) == 3, sent  # the payment read, the charge, the change
    async with pool.acquire() as conn:
        card = await conn.fetchrow(
            "SELECT card_brand, card_last4 FROM payment_attempts WHERE payment_id = $1", other.id
        )
    assert card is not None
    assert tuple(card) == ("visa", "4242")


async def test_a_repeat_rolls_back_and_is_a_duplicate(pool: Pool, store: PgStore) -> None:
    payment, pi_id = await new_payment(store)
    event = _declined(pi_id)
    assert (await _sent(pool, event, store))[0] == "applied"
    outcome, sent = await _sent(pool, event, store)
    assert outcome == "duplicate"
    # The first try's one statement met the stored row and wrote nothing; the second
    # claimed the row first, in a transaction, and found it processed.
    assert sent[1].startswith("WITH changed AS"), sent
    assert sent[2:] == [
        "BEGIN;",
        "INSERT INTO stripe_events (id, type, cre",
        "SELECT processed_at FROM stripe_events W",
        "COMMIT;",
    ]
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
    assert len(sent) == 1, sent  # the inbox row with its reason, on its own
    assert (await _processed(pool, event["id"]))[1] == "mismatch: livemode"
    assert await _state(pool, payment.id) == (1, 0)
    assert (await _sent(pool, event, store))[0] == "duplicate"


async def test_an_event_that_changes_nothing_is_stored(pool: Pool, store: PgStore) -> None:
    event = _declined(f"pi_{uuid.uuid4().hex[:24]}")  # no payment of ours
    assert (await _sent(pool, event, store))[0] == "not_ours"
    await _processed(pool, event["id"])
    assert (await _sent(pool, event, store))[0] == "duplicate"
