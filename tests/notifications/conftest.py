"""Fixtures: a store on the module's database and an in-process delivery worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import pytest

from service.db.notifications_repo import NotificationsStore
from service.db.pool import Pool, close_pool, create_pool
from service.db.store import PgStore
from service.notifications.worker import DeliveryConfig, DeliveryWorker
from tests.notifications.receiver import SECRET


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=6)
    yield pool
    await close_pool(pool, 10)  # a connection a cancelled delivery held must not hang it


@pytest.fixture
def store(pool: Pool) -> PgStore:
    return PgStore(pool)


def fast_config(urls: Sequence[str], **overrides: object) -> DeliveryConfig:
    """Schedules in tens of milliseconds: tests never sleep for a production delay."""
    values: dict[str, object] = {
        "urls": list(urls),
        "secrets": [SECRET],
        "timeout_seconds": 1.0,
        "retry_schedule": [0.05, 0.05, 0.05, 0.05],
        "concurrency": 4,
        "poll_seconds": 0.1,
    }
    values.update(overrides)
    return DeliveryConfig(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running_worker(
    pool: Pool,
    database_url: str,
    config: DeliveryConfig,
    room: Callable[[float], Awaitable[None]] | None = None,
) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(NotificationsStore(pool), database_url, config, room=room)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
