"""A broker's own delivery rate: a raw publish/subscribe loop through the client
libraries the service uses (redis-py asyncio, nats-py, asyncpg LISTEN/NOTIFY), no
service in between.

`subscribers` connections all subscribe to one channel; this process publishes messages
shaped like the service's (``remote.encode``) in batches, never more than WINDOW batches
ahead of what the subscribers have received (so no server buffer overflows), for
`seconds`, then waits for the rest. Deliveries are messages received, summed over the
subscribers. The server's CPU meanwhile (the broker process, or the whole PostgreSQL
cluster for LISTEN/NOTIFY) ÷ deliveries is its cost per delivery. The subscribers run
in this process: on a small machine the Python clients, not the server, set the rate;
the CPU per delivery is the server's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import nats
import redis.asyncio as aioredis

from service.realtime.brokers.remote import encode
from tests.bench.common import cpu_seconds, postgres_cpu_seconds

CHANNEL = "paylive_bench_raw"
WINDOW = 2  # batches in flight
CONNECT_GATE = 16  # subscriber connections opened at once
PG_PUBLISHERS = 8  # NOTIFYing connections (each NOTIFY its own transaction)

Publish = Callable[[int], Awaitable[None]]  # publish this many messages


class Tally:
    """Deliveries so far; lets the publisher wait until they reach a target."""

    def __init__(self) -> None:
        self.count = 0
        self._target = 0
        self._reached = asyncio.Event()

    def add(self, *_: object) -> None:
        self.count += 1
        if self.count >= self._target:
            self._reached.set()

    async def until(self, target: int, timeout: float = 30.0) -> None:
        self._target = target
        if self.count < target:
            self._reached.clear()
            await asyncio.wait_for(self._reached.wait(), timeout)


def _message() -> bytes:
    return encode(uuid.uuid4(), 2, time.time())


async def _gathered(count: int, open_one: Callable[[], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(CONNECT_GATE)

    async def gated() -> Any:
        async with gate:
            return await open_one()

    return list(await asyncio.gather(*(gated() for _ in range(count))))


@contextlib.asynccontextmanager
async def _redis(url: str, subscribers: int, tally: Tally) -> AsyncIterator[tuple[Publish, int]]:
    # One connection per subscriber: redis-py 8 caps a pool at 100 by default.
    client = aioredis.Redis.from_url(url, max_connections=subscribers + 8)

    async def subscriber() -> Any:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(**{CHANNEL: tally.add})  # handler: runs inside listen()
        return pubsub

    pubsubs = await _gathered(subscribers, subscriber)
    readers = [asyncio.create_task(p.run()) for p in pubsubs]
    payload = _message()

    async def publish(count: int) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(count):
                pipe.publish(CHANNEL, payload)
            await pipe.execute()

    try:
        yield publish, 64
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for pubsub in pubsubs:
            await pubsub.aclose()
        await client.aclose()


@contextlib.asynccontextmanager
async def _nats(url: str, subscribers: int, tally: Tally) -> AsyncIterator[tuple[Publish, int]]:
    async def on_message(_msg: Any) -> None:
        tally.add()

    async def subscriber() -> Any:
        nc = await nats.connect(url, allow_reconnect=False)
        await nc.subscribe(CHANNEL, cb=on_message)
        await nc.flush()
        return nc

    connections = await _gathered(subscribers, subscriber)
    publisher = await nats.connect(url, allow_reconnect=False)
    payload = _message()

    async def publish(count: int) -> None:
        for _ in range(count):
            await publisher.publish(CHANNEL, payload)
        await publisher.flush()

    try:
        yield publish, 64
    finally:
        for nc in [publisher, *connections]:
            await nc.close()


@contextlib.asynccontextmanager
async def _postgres(url: str, subscribers: int, tally: Tally) -> AsyncIterator[tuple[Publish, int]]:
    async def subscriber() -> asyncpg.Connection:
        conn = await asyncpg.connect(url)
        await conn.add_listener(CHANNEL, tally.add)
        return conn

    listeners = await _gathered(subscribers, subscriber)
    publishers = await _gathered(PG_PUBLISHERS, lambda: asyncpg.connect(url))
    payload = _message().decode()

    async def publish(count: int) -> None:
        async def one(i: int) -> None:
            await publishers[i % PG_PUBLISHERS].execute(
                "SELECT pg_notify($1, $2)", CHANNEL, payload
            )

        for start in range(0, count, PG_PUBLISHERS):
            await asyncio.gather(*(one(i) for i in range(start, min(count, start + PG_PUBLISHERS))))

    try:
        yield publish, PG_PUBLISHERS
    finally:
        for conn in [*publishers, *listeners]:
            await conn.close()


async def run(
    kind: str,
    url: str,
    subscribers: int,
    seconds: float,
    server_cpu: Callable[[], float],
) -> dict[str, Any]:
    """The loop against ``kind``'s server at `url` (a database URL for postgres);
    `server_cpu` reads the server's CPU seconds so far."""
    tally = Tally()
    opened = {"redis": _redis, "nats": _nats, "postgres": _postgres}[kind]
    async with opened(url, subscribers, tally) as (publish, batch):
        await publish(batch)  # warm: every subscriber has had one
        await tally.until(batch * subscribers)
        tally.count = 0
        published = 0
        cpu0, started = server_cpu(), time.monotonic()
        deadline = started + seconds
        while time.monotonic() < deadline:
            await publish(batch)
            published += batch
            await tally.until((published - WINDOW * batch) * subscribers)
        lost = 0
        try:
            await tally.until(published * subscribers, timeout=10)
        except TimeoutError:
            lost = published * subscribers - tally.count
        elapsed = time.monotonic() - started
        cpu = server_cpu() - cpu0
    delivered = tally.count
    result = {
        "subscribers": subscribers,
        "published": published,
        "delivered": delivered,
        "lost": lost,
        "seconds": round(elapsed, 3),
        "publishes_per_s": round(published / elapsed, 1),
        "deliveries_per_s": round(delivered / elapsed, 1),
        "server_cpu_us_per_delivery": round(cpu / delivered * 1e6, 3) if delivered else None,
    }
    print(
        f"  brokers raw {kind}: {subscribers} subscribers, {result['deliveries_per_s']:,.0f} "
        f"deliveries/s ({result['publishes_per_s']:,.0f} publishes/s), server "
        f"{result['server_cpu_us_per_delivery']} us/delivery, lost {lost}",
        flush=True,
    )
    return result


def server_cpu_reader(pid: int | None, postmaster: int | None) -> Callable[[], float]:
    """CPU seconds of the broker process `pid`, or (no pid) of the PostgreSQL cluster."""
    if pid is not None:
        return lambda: cpu_seconds(pid)
    return lambda: postgres_cpu_seconds(postmaster)
