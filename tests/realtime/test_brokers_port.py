"""The broker seams on their own: the setting, and a store that publishes after commit
(never for a rollback) instead of NOTIFYing inside the transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import asyncpg
import pytest

from service.config import SettingsError, load_settings
from service.db.payments_repo import NOTIFY_CHANNEL
from service.db.pool import Pool, create_pool
from service.db.store import Committed, PgStore
from service.payments.models import Change
from tests.support.payments import add_payment, change


@pytest.mark.parametrize("value", ["postgres", "redis://127.0.0.1:6379/0", "nats://n:4222"])
def test_realtime_broker_accepts_postgres_redis_and_nats(value: str) -> None:
    assert load_settings(realtime_broker=value).realtime_broker == value


@pytest.mark.parametrize("value", ["", "kafka://k:9092", "Postgres", "http://redis"])
def test_realtime_broker_rejects_anything_else(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(realtime_broker=value)
    assert raised.value.problems[0][0] == "REALTIME_BROKER"


def test_realtime_broker_defaults_to_postgres() -> None:
    settings = load_settings()
    assert (settings.realtime_broker, settings.listen_database_url) == ("postgres", None)


async def _change_then_fail(store: PgStore, payment_id: UUID) -> None:
    async with store.transaction() as tx:
        current = await tx.get_payment(payment_id, for_update=True)
        assert current is not None
        await tx.apply_change(
            current, Change(kind="t", cause_type="api", cause_id=None, status="canceled")
        )
        raise RuntimeError("roll it back")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def test_publishing_store_sends_no_notify_and_publishes_after_commit_only(
    pool: Pool, database_url: str
) -> None:
    published: list[Committed] = []

    def after_commit(committed: Sequence[Committed]) -> None:
        published.extend(committed)

    notes: list[str] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: notes.append(args[-1]))
    try:
        store = PgStore(pool, after_commit=after_commit)
        payment = await add_payment(store)
        changed = await change(store, payment, "processing")
        assert [(pid, v) for pid, v, _ in published] == [(payment.id, 1), (payment.id, 2)]
        with pytest.raises(RuntimeError, match="roll it back"):
            await _change_then_fail(store, payment.id)
        assert len(published) == 2  # the rolled-back change was never published
        async with store.connection() as db:
            timeline = await db.timeline(payment.id)
        assert [e.version for e in timeline] == [1, 2]
        assert changed.version == 2
        await asyncio.sleep(0.3)
        assert notes == []  # no NOTIFY with a broker
        await change(PgStore(pool), changed, "succeeded")  # the default store still does
        for _ in range(50):
            if notes:
                break
            await asyncio.sleep(0.05)
        assert len(notes) == 1
    finally:
        await listener.close()
