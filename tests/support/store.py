"""A PgStore on a pool of its own, outside any fixture: for hypothesis examples (which a
function-scoped fixture cannot serve) and for the `store` fixture."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from hypothesis import HealthCheck, settings

from service.db.pool import create_pool
from service.db.store import PgStore


@asynccontextmanager
async def open_store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        yield PgStore(pool)
    finally:
        await pool.close()


def run(database_url: str, body: Callable[[PgStore], Awaitable[None]]) -> None:
    async def main() -> None:
        async with open_store(database_url) as store:
            await body(store)

    asyncio.run(main())


def against_the_database(max_examples: int) -> settings:
    """Hypothesis settings for examples that each run against PostgreSQL: no deadline
    (the database's timing is not the property), the module's database reused."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
