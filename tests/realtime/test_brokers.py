"""Live status across processes, once per broker (postgres, Redis, NATS), on real
servers: webhooks into process A, sockets on B and C. Every update arrives once and in
order; a broker killed under traffic loses nothing a client sees; a process killed
between commit and publish is covered by the catch-up."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from service.db.pool import create_pool
from service.db.store import PgStore
from tests.support.cluster import STEPS, Node, Watcher, post_step, service_env, start_node
from tests.support.payments import add_payment
from tests.support.servers import BrokerServer, broker_url, start_broker

BROKERS = ["postgres", "redis", "nats"]


@dataclass
class Cluster:
    kind: str
    server: BrokerServer | None
    database_url: str
    nodes: list[Node]  # A (takes the webhooks), B, C (hold the sockets)


@pytest.fixture(scope="module", params=BROKERS)
def broker_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, BrokerServer | None]]:
    server = start_broker(request.param)
    yield request.param, server
    if server is not None:
        server.stop()


@pytest.fixture
async def cluster(
    broker_server: tuple[str, BrokerServer | None], database_url: str
) -> AsyncIterator[Cluster]:
    kind, server = broker_server
    env = service_env(database_url, broker_url(server))
    async with aiohttp.ClientSession() as session:
        nodes = list(await asyncio.gather(*(start_node(session, env) for _ in range(3))))
    try:
        yield Cluster(kind, server, database_url, nodes)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield PgStore(pool)
    await pool.close()


async def _payments(store: PgStore, count: int) -> list[tuple[str, str]]:
    """(payment id, PaymentIntent id) of ``count`` fresh payments."""
    made = []
    for _ in range(count):
        payment = await add_payment(store, intent_id=f"pi_b_{os.urandom(8).hex()}")
        assert payment.stripe_payment_intent_id is not None
        made.append((str(payment.id), payment.stripe_payment_intent_id))
    return made


def _assert_once_in_order(watchers: list[Watcher]) -> None:
    for watcher in watchers:
        for pid, versions in watcher.heard.items():
            assert versions == [2, 3, 4], (pid, versions)
            assert watcher.status[pid] == "succeeded"


async def _kill_listeners(database_url: str) -> None:
    """The postgres broker's 'broker died': every LISTEN connection terminated."""
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()"""
        )
    finally:
        await admin.close()


async def test_updates_reach_other_processes_once_in_order(
    cluster: Cluster, store: PgStore
) -> None:
    a, b, c = cluster.nodes
    payments = await _payments(store, 3)
    ids = [pid for pid, _ in payments]
    async with aiohttp.ClientSession() as session:
        watchers = [await Watcher.open(session, node, ids) for node in (b, c, b, c)]
        for step in range(len(STEPS)):
            for _, intent_id in payments:
                await post_step(session, a, intent_id, step)
        await asyncio.gather(*(w.until_final(4) for w in watchers))
        _assert_once_in_order(watchers)


async def test_broker_killed_under_traffic_loses_nothing(cluster: Cluster, store: PgStore) -> None:
    a, b, c = cluster.nodes
    payments = await _payments(store, 12)
    ids = [pid for pid, _ in payments]
    async with aiohttp.ClientSession() as session:
        watchers = [await Watcher.open(session, node, ids) for node in (b, c)]
        for step in range(len(STEPS)):
            for i, (_, intent_id) in enumerate(payments):
                if step == 1 and i == 4:  # mid-traffic: the broker dies and comes back
                    if cluster.server is None:
                        await _kill_listeners(cluster.database_url)
                    else:
                        cluster.server.kill()
                        await asyncio.sleep(0.3)
                        cluster.server.start()
                await post_step(session, a, intent_id, step)
        await asyncio.gather(*(w.until_final(4, timeout=20) for w in watchers))
        _assert_once_in_order(watchers)


@pytest.mark.parametrize("kind", ["redis", "nats"])
async def test_process_killed_between_commit_and_publish(
    kind: str, database_url: str, store: PgStore
) -> None:
    """A takes the webhook and commits; its broker (its own, hung) never gets the
    publish; A is SIGKILLed. B and C, on the shared broker, hear of it by the catch-up."""
    shared, own = start_broker(kind), start_broker(kind)
    assert shared is not None
    assert own is not None
    payments = await _payments(store, 1)
    (pid, intent_id) = payments[0]
    nodes: list[Node] = []
    try:
        async with aiohttp.ClientSession() as session:
            env = service_env(database_url, broker_url(shared))
            nodes = [await start_node(session, env) for _ in range(2)]
            a = await start_node(session, service_env(database_url, broker_url(own)))
            nodes.append(a)
            watchers = [await Watcher.open(session, node, [pid]) for node in nodes[:2]]
            own.pause()  # A's publishes now go nowhere
            for step in range(len(STEPS)):
                await post_step(session, a, intent_id, step)  # 200: committed
            a.process.send_signal(signal.SIGKILL)
            a.process.wait(timeout=10)
            await asyncio.gather(*(w.until_final(4) for w in watchers))
            _assert_once_in_order(watchers)
    finally:
        for node in nodes:
            node.stop()
        shared.stop()
        own.stop()
