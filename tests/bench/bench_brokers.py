"""``python -m tests.bench.bench_brokers``: each broker (postgres, Redis, NATS) with three
service processes: webhooks into A at concurrency 8, sockets on B and C watching every
payment; webhook ingestion rate and webhook → socket latency (post start → update heard).

Sizes: BENCH_BROKERS_PAYMENTS (120, 20 per socket), BENCH_BROKERS_ONLY (all three).
Throwaway PostgreSQL with fsync off; nothing else is tuned.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import aiohttp

from service.db.pool import create_pool
from service.db.store import PgStore
from tests.support.cluster import STEPS, Node, Watcher, post_step, service_env, start_node
from tests.support.payments import add_payment
from tests.support.postgres import TestPostgres
from tests.support.servers import NatsServer, RedisServer, ServerProcess

PER_SOCKET = 20  # WS_MAX_SUBSCRIPTIONS


async def _listen(watcher: Watcher, heard: dict[tuple[str, int], float], total: int) -> None:
    while len(heard) < total:
        message = await watcher.next(timeout=30)
        for entry in message.get("timeline", []):
            heard.setdefault((message["payment_id"], entry["version"]), time.monotonic())


async def run_one(kind: str, database_url: str, payments: int) -> dict[str, float]:
    server: ServerProcess | None = {"redis": RedisServer, "nats": NatsServer}.get(
        kind, lambda: None
    )()
    if server is not None:
        server.start()
    url = server.url if isinstance(server, RedisServer | NatsServer) else "postgres"
    pool = await create_pool(database_url, min_size=1, max_size=4)
    store = PgStore(pool)
    made = [
        await add_payment(store, intent_id=f"pi_bb_{os.urandom(8).hex()}") for _ in range(payments)
    ]
    nodes: list[Node] = []
    async with aiohttp.ClientSession() as session:
        try:
            env = service_env(database_url, url, LOG_LEVEL="WARNING")
            nodes = list(await asyncio.gather(*(start_node(session, env) for _ in range(3))))
            ids = [str(p.id) for p in made]
            groups = [ids[i : i + PER_SOCKET] for i in range(0, len(ids), PER_SOCKET)]
            heard: list[dict[tuple[str, int], float]] = []
            listeners = []
            for node in nodes[1:]:
                for group in groups:
                    watcher = await Watcher.open(session, node, group)
                    heard.append({})
                    listeners.append(_listen(watcher, heard[-1], len(group) * len(STEPS)))
            tasks = [asyncio.create_task(coro) for coro in listeners]
            sent: dict[tuple[str, int], float] = {}
            gate = asyncio.Semaphore(8)

            async def post(pid: str, intent_id: str, step: int) -> None:
                async with gate:
                    sent[(pid, step + 2)] = time.monotonic()
                    await post_step(session, nodes[0], intent_id, step)

            started = time.monotonic()
            for step in range(len(STEPS)):
                await asyncio.gather(
                    *(post(str(p.id), str(p.stripe_payment_intent_id), step) for p in made)
                )
            rate = payments * len(STEPS) / (time.monotonic() - started)
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            latencies = sorted(1000 * (at - sent[key]) for h in heard for key, at in h.items())
        finally:
            for node in nodes:
                node.stop()
            await pool.close()
            if server is not None:
                server.stop()
    return {
        "webhooks_per_s": rate,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "updates": len(latencies),
    }


def main() -> None:
    payments = int(os.environ.get("BENCH_BROKERS_PAYMENTS", "120"))
    kinds = os.environ.get("BENCH_BROKERS_ONLY", "postgres,redis,nats").split(",")
    postgres = TestPostgres.start(os.environ.get("BENCH_DATABASE_URL"))
    try:
        print("| broker | webhooks/s (c=8) | webhook → socket p50 / p99 / max | updates |")
        print("|---|---|---|---|")
        for kind in kinds:
            url = postgres.create_database(f"bench_brokers_{kind}")
            r = asyncio.run(run_one(kind, url, payments))
            latency = f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ms"
            row = f"| {kind} | {r['webhooks_per_s']:.0f} | {latency} | {r['updates']:.0f} |"
            print(row, flush=True)
            postgres.drop_database(url)
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
