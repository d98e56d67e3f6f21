"""PgStore.add_payment, creation's first write: one statement without merchant
notifications, yet the row, its timeline entry and its NOTIFY (or its publish after
commit) come together, and an order's second live payment is refused with nothing written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from service.db.payments_repo import NOTIFY_CHANNEL
from service.db.pool import Pool, create_pool
from service.db.store import Committed, PgStore
from service.payments.models import NewPayment


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


def _new(order_id: str, amount: int = 2500) -> NewPayment:
    return NewPayment(
        id=uuid.uuid4(),
        order_id=order_id,
        customer_id=None,
        flow="payment_intent",
        amount=amount,
        currency="usd",
        capture_method="automatic",
        description=None,
        metadata={"seat": "A1"},
    )


async def _written(pool: Pool, payment_id: uuid.UUID) -> tuple[int, list[tuple[int, str]]]:
    async with pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM payments WHERE id = $1", payment_id)
        timeline = await conn.fetch(
            "SELECT version, kind FROM payment_events WHERE payment_id = $1", payment_id
        )
    return rows, [(e["version"], e["kind"]) for e in timeline]


async def test_one_insert_writes_row_timeline_and_notify(pool: Pool, database_url: str) -> None:
    notes: list[str] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: notes.append(args[-1]))
    try:
        store = PgStore(pool, notify_merchants=False)
        order_id = f"order-{uuid.uuid4()}"
        payment = await store.add_payment(_new(order_id))
        assert payment is not None
        assert (payment.order_id, payment.version, payment.status) == (
            order_id,
            1,
            "requires_payment_method",
        )
        assert payment.metadata == {"seat": "A1"}
        assert await _written(pool, payment.id) == (1, [(1, "created")])
        for _ in range(50):
            if notes:
                break
            await asyncio.sleep(0.05)
        assert [str(payment.id) in note for note in notes] == [True]

        # The order now has an open payment: a second one, even for another amount, is
        # refused by the unique index and leaves nothing behind.
        second = _new(order_id, amount=3000)
        assert await store.add_payment(second) is None
        assert await _written(pool, second.id) == (0, [])
    finally:
        await listener.close()


async def test_a_publishing_store_publishes_the_creation_after_it_committed(pool: Pool) -> None:
    published: list[Committed] = []

    def after_commit(committed: Sequence[Committed]) -> None:
        published.extend(committed)

    store = PgStore(pool, after_commit=after_commit, notify_merchants=False)
    order_id = f"order-{uuid.uuid4()}"
    payment = await store.add_payment(_new(order_id))
    assert payment is not None
    assert [(pid, v) for pid, v, _ in published] == [(payment.id, 1)]
    assert await store.add_payment(_new(order_id)) is None
    assert len(published) == 1  # nothing written, nothing published
