"""close_pool: graceful when every connection is back, bounded when one is still held."""

from __future__ import annotations

import time

from service.db.pool import close_pool, create_pool


async def test_a_held_connection_cannot_hold_up_the_close(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    await pool.acquire()  # never released: a stuck task's connection
    started = time.monotonic()
    await close_pool(pool, 0.5)
    assert time.monotonic() - started < 5
    assert pool._closed


async def test_an_idle_pool_closes_gracefully(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    await close_pool(pool, 5)
    assert pool._closed
