"""Warm start: every pooled connection open with the hot statements prepared, and
nothing of the rehearsal left behind."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from service.db.payments_repo import NOTIFY_CHANNEL
from service.db.pool import Pool, close_pool, create_pool
from service.warm_up import warm_pool
from tests.support.postgres import TestPostgres
from tests.support.processes import free_port, serve_env, spawn_service, wait_ready

TABLES = ("payments", "payment_events", "payment_attempts", "stripe_events", "notifications")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    opened = await create_pool(database_url, min_size=1, max_size=4)
    yield opened
    await close_pool(opened, 5)


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}  # noqa: S608 - constant names


async def _prepared(conn: asyncpg.Connection) -> list[str]:
    return [
        r["statement"] for r in await conn.fetch("SELECT statement FROM pg_prepared_statements")
    ]


async def _custom_planned(conn: asyncpg.Connection, fragment: str) -> list[tuple[int, int]]:
    """(custom plans, generic plans) of the prepared statements holding `fragment`."""
    rows = await conn.fetch(
        "SELECT custom_plans, generic_plans FROM pg_prepared_statements"
        " WHERE strpos(statement, $1) > 0",
        fragment,
    )
    return [(r["custom_plans"], r["generic_plans"]) for r in rows]


async def test_every_connection_opens_with_the_hot_statements_prepared(pool: Pool) -> None:
    assert pool.get_size() == 1
    outcomes = await warm_pool(pool, 4, notify=True, notify_merchants=True, livemode=False)
    assert outcomes == ["applied"] * 4
    assert pool.get_size() == 4
    held = [await pool.acquire() for _ in range(4)]  # all four at once: each one of them
    try:
        for conn in held:
            statements = await _prepared(conn)
            for hot in ("INSERT INTO stripe_events", "UPDATE payments", "INSERT INTO payments"):
                assert any(hot in s for s in statements), (hot, statements)
            assert any("unnest($1::uuid[]" in s for s in statements)  # the push path's read
            # The webhook's read and guarded change (``PgStore.optimistic``) are past
            # PostgreSQL's five custom plans: the first real webhooks reuse the plan it
            # settled on, no planning left.
            for hot in ("xmin AS row_xmin FROM payments", "AND xmin = $16::xid"):
                plans = await _custom_planned(conn, hot)
                assert plans, hot
                assert all(generic >= 1 for _, generic in plans), (hot, plans)
    finally:
        for conn in held:
            await pool.release(conn)


async def test_the_rehearsal_leaves_nothing_behind(pool: Pool, database_url: str) -> None:
    listener = await asyncpg.connect(database_url)
    heard: list[str] = []
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        before = await _counts(listener)
        outcomes = await warm_pool(pool, 2, notify=True, notify_merchants=True, livemode=False)
        assert outcomes == ["applied", "applied"]
        await asyncio.sleep(0.3)  # a NOTIFY, had one been committed, arrives by now
        assert await _counts(listener) == before
        assert heard == []
    finally:
        await listener.close()


async def test_a_failed_warm_up_leaves_a_cold_start_not_a_failed_one(
    postgres: TestPostgres, request: pytest.FixtureRequest
) -> None:
    url = postgres.create_database(request.node.name)
    try:
        admin = await asyncpg.connect(url)
        await admin.execute("ALTER TABLE stripe_events RENAME TO stripe_events_gone")
        await admin.close()
        pool = await create_pool(url, min_size=1, max_size=3)
        try:
            assert (
                await warm_pool(pool, 3, notify=True, notify_merchants=False, livemode=False) == []
            )
            held = [await pool.acquire() for _ in range(3)]  # every connection was given back
            for conn in held:
                assert await conn.fetchval("SELECT 1") == 1
                await pool.release(conn)
        finally:
            await close_pool(pool, 5)
    finally:
        postgres.drop_database(url)


async def test_serve_opens_its_whole_pool_before_it_is_ready(database_url: str) -> None:
    port = free_port()
    env = serve_env(database_url, DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE="6")
    admin = await asyncpg.connect(database_url)
    database = await admin.fetchval("SELECT current_database()")
    others = await _sessions(admin, database)
    process = spawn_service(env, "--port", str(port))
    try:
        async with aiohttp.ClientSession() as session:
            assert await wait_ready(session, f"http://127.0.0.1:{port}", seconds=30)
        # 6 pooled + the LISTEN connection, opened before /readyz answered
        assert await _sessions(admin, database) - others >= 7
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        await admin.close()


async def _sessions(conn: asyncpg.Connection, database: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    )
