"""Attempts ride with the change that records them (``AttemptQueries.add_attempt``; the
round trips of a whole webhook: tests/payments/test_ingest_event.py). An attempt no
change takes along is still written before the commit, one is readable in its own
transaction, and a rolled-back transaction leaves none.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from service.db.pool import Pool, create_pool
from service.db.store import PgStore
from service.payments.models import NewAttempt
from tests.support.payments import new_payment


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    yield pool
    await pool.close()


async def _attempts(pool: Pool, payment_id: uuid.UUID) -> list[tuple[str, str | None]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT stripe_event_id, decline_code FROM payment_attempts WHERE payment_id = $1",
            payment_id,
        )
    return [(r["stripe_event_id"], r["decline_code"]) for r in rows]


def _attempt(event_id: str) -> NewAttempt:
    return NewAttempt(
        outcome="failed",
        stripe_event_id=event_id,
        occurred_at=datetime.now(UTC),
        decline_code="insufficient_funds",
    )


async def test_an_attempt_without_a_change_is_written_before_commit(pool: Pool) -> None:
    store = PgStore(pool, notify_merchants=False)
    payment, _ = await new_payment(store)
    async with store.transaction() as tx:
        await tx.add_attempt(payment.id, _attempt("evt_alone"))
    assert await _attempts(pool, payment.id) == [("evt_alone", "insufficient_funds")]


async def test_a_rolled_back_transaction_leaves_no_attempt(pool: Pool) -> None:
    store = PgStore(pool, notify_merchants=False)
    payment, _ = await new_payment(store)

    async def fail_after_staging() -> None:
        async with store.transaction() as tx:
            await tx.add_attempt(payment.id, _attempt("evt_rolled_back"))
            await tx.get_payment(payment.id, for_update=True)
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        await fail_after_staging()
    assert await _attempts(pool, payment.id) == []


async def test_an_attempt_is_readable_in_its_own_transaction(pool: Pool) -> None:
    """Reads of attempts (and the charge's card fill) see a staged attempt written."""
    store = PgStore(pool, notify_merchants=False)
    payment, _ = await new_payment(store)
    async with store.transaction() as tx:
        await tx.add_attempt(payment.id, _attempt("evt_read_back"))
        seen = await tx.attempts(payment.id)
    assert [a.stripe_event_id for a in seen] == ["evt_read_back"]
