"""DATABASE_URL through pgbouncer in transaction mode (Debian's, older than 1.21: no
protocol-level prepared statements, so DB_STATEMENT_CACHE_SIZE=0), LISTEN on its own
direct connection (LISTEN_DATABASE_URL): the webhook → socket flow still works."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from service.db.pool import create_pool
from service.db.store import PgStore
from tests.support.cluster import STEPS, Watcher, post_step, service_env, start_node
from tests.support.payments import add_payment
from tests.support.servers import PgBouncer


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[PgBouncer]:
    server = PgBouncer(database_url)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield PgStore(pool)
    await pool.close()


async def test_pool_through_pgbouncer_runs_the_same_statement_many_times(
    bouncer: PgBouncer, database_url: str
) -> None:
    pool = await create_pool(
        bouncer.url_for(database_url), min_size=2, max_size=4, statement_cache_size=0
    )
    try:
        for i in range(20):  # interleaved transactions land on different server connections
            async with pool.acquire() as conn, conn.transaction():
                assert await conn.fetchval("SELECT count(*) + $1::int FROM payments", i) >= i
    finally:
        await pool.close()


async def test_webhook_to_socket_through_pgbouncer(
    bouncer: PgBouncer, database_url: str, store: PgStore
) -> None:
    env = service_env(
        bouncer.url_for(database_url),
        "postgres",
        LISTEN_DATABASE_URL=database_url,
        DB_STATEMENT_CACHE_SIZE="0",
    )
    payment = await add_payment(store, intent_id="pi_bouncer_1")
    pid = str(payment.id)
    async with aiohttp.ClientSession() as session:
        a, b = [await start_node(session, env) for _ in range(2)]
        try:
            watcher = await Watcher.open(session, b, [pid])
            for step in range(len(STEPS)):
                await post_step(session, a, "pi_bouncer_1", step)
            await watcher.until_final(4)
            assert watcher.heard[pid] == [2, 3, 4]
            assert watcher.status[pid] == "succeeded"
        finally:
            a.stop()
            b.stop()
