"""Benchmark 6: the fan-out brokers (``REALTIME_BROKER``: postgres LISTEN/NOTIFY, Redis,
NATS), each on a real server started here.

1. Ingestion: the ingest benchmark's service side (signed webhooks, one keep-alive
   connection per worker) into one service process at concurrency BENCH_BROKERS_LEVEL,
   on a PostgreSQL with fsync on (synchronous_commit and full_page_writes on too, as in
   production: a cluster started for this) beside the bench's fsync-off one; CPU per
   webhook of the service, of that PostgreSQL server (its processes only) and of the
   broker server.
2. Webhook → browser with three processes on the fsync-on cluster: the push benchmark's
   paced webhooks into A, client processes holding sockets on B and C (every payment
   watched on both, so each webhook is due on two sockets); p50/p99/max, missing
   updates, CPU per webhook of A+B+C, of the database and of the broker, and the memory
   per socket B and C grew by.
3. Each broker's raw delivery rate (``broker_raw``), then the sizing (``broker_sizing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from tests.bench import bench_ingest, broker_raw, broker_sizing
from tests.bench.bench_push import paced_run, subscriptions
from tests.bench.client_procs import ClientGroup
from tests.bench.common import (
    ServiceProcess,
    cpu_seconds,
    env_float,
    env_int,
    postgres_cpu_seconds,
    postmaster_pid,
    rss_bytes,
    run_service,
    stop_process,
)
from tests.bench.setup import make_payments
from tests.support.postgres import TestPostgres
from tests.support.servers import BrokerServer, broker_url, start_broker

KINDS = ("postgres", "redis", "nats")


class Side:
    """One PostgreSQL server the brokers run against: its bench database, its settings
    and its CPU (its postmaster and backends only)."""

    def __init__(self, name: str, pg: TestPostgres) -> None:
        self.name = name
        self.pg = pg
        self.url = pg.create_database("bench_brokers")
        self.postmaster: int | None = None
        self.settings: dict[str, str] = {}

    async def prepare(self) -> None:
        self.postmaster = await postmaster_pid(self.url)
        conn = await asyncpg.connect(self.url)
        try:
            for name in ("fsync", "synchronous_commit", "full_page_writes"):
                self.settings[name] = str(await conn.fetchval(f"SHOW {name}"))
        finally:
            await conn.close()

    def db_cpu(self) -> float:
        return postgres_cpu_seconds(self.postmaster)


@dataclass(frozen=True)
class Broker:
    kind: str
    server: BrokerServer | None  # None: postgres, the database is the broker

    @property
    def env(self) -> dict[str, str]:
        return {"REALTIME_BROKER": broker_url(self.server)}

    @property
    def pid(self) -> int | None:
        return self.server.pid if self.server is not None else None

    def cpu(self) -> float:
        return cpu_seconds(self.server.pid) if self.server is not None else 0.0


async def ingest(
    broker: Broker, side: Side, service: ServiceProcess, level: int, events: int
) -> dict[str, Any]:
    """`events` webhooks into `service` (on `side`'s database) at concurrency `level`."""
    payments = await make_payments(side.url, max(1, events // 2))
    result = await bench_ingest.run_service_level(
        service, payments, level, events, postmaster=side.postmaster, broker_pid=broker.pid
    )
    summary = result.summary()
    print(
        f"  brokers ingest {broker.kind} ({side.name}) c={level}: "
        f"{summary['events_per_s']:,.0f}/s, p99 {summary['p99_ms']} ms, "
        f"errors {summary['errors']}",
        flush=True,
    )
    return summary


async def latency(
    broker: Broker,
    side: Side,
    nodes: list[ServiceProcess],
    work_dir: Path,
    *,
    sockets: int,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Paced webhooks into A; the sockets on B and C (`nodes`: A, B, C)."""
    a, b, c = nodes
    payments = await make_payments(side.url, max(1, sockets // 2))
    rss0 = [rss_bytes(n.pid) for n in (b, c)]
    # Sockets 0..P-1 on B and P..2P-1 on C: each payment watched once on each.
    subs = subscriptions(payments, 2 * len(payments))
    ws = [n.url.replace("http://", "ws://") + "/ws" for n in (b, c)]
    group = await ClientGroup.start(ws, subs, 2, work_dir, f"brokers-{broker.kind}")
    try:
        if group.ready != len(subs):
            raise RuntimeError(f"{broker.kind}: {group.ready} of {len(subs)} sockets subscribed")
        idle0, idle_from = _cpu_now(nodes, side, broker), time.monotonic()
        await asyncio.sleep(1.0)
        idle1, idle_for = _cpu_now(nodes, side, broker), time.monotonic() - idle_from
        grown = [rss_bytes(n.pid) - before for n, before in zip((b, c), rss0, strict=True)]
        versions = [p.version for p in payments]
        label = f"brokers push {broker.kind}"
        await paced_run(a, group, payments, versions, rate, 1.0, first_second=True, label=label)
        cpu0, run_from = _cpu_now(nodes, side, broker), time.monotonic()
        run = await paced_run(a, group, payments, versions, rate, seconds, label=label)
        cpu1, run_for = _cpu_now(nodes, side, broker), time.monotonic() - run_from
    finally:
        await group.close()
    idle = [(i1 - i0) / idle_for for i0, i1 in zip(idle0, idle1, strict=True)]
    # Per webhook: what the run used beyond what as long idle would have.
    used = [max(0.0, c1 - c0 - i * run_for) for c0, c1, i in zip(cpu0, cpu1, idle, strict=True)]
    per_webhook = 1e6 / max(1, run["events"])

    def by_role(values: list[float], scale: float, digits: int) -> dict[str, float | None]:
        return {
            "ingesting_process": round(values[0] * scale, digits),
            "socket_processes": round((values[1] + values[2]) * scale, digits),
            "database": round(values[3] * scale, digits),
            "broker": round(values[4] * scale, digits) if broker.server is not None else None,
        }

    run.update(
        sockets=len(subs),
        kib_per_socket=round(sum(grown) / len(subs) / 1024, 2),
        cpu_us_per_webhook=by_role(used, per_webhook, 1),
        idle_cpu_ms_per_s=by_role(idle, 1000, 1),
    )
    return run


def _cpu_now(nodes: list[ServiceProcess], side: Side, broker: Broker) -> list[float]:
    """CPU seconds so far of A, B, C, the database, the broker."""
    return [cpu_seconds(n.pid) for n in nodes] + [side.db_cpu(), broker.cpu()]


async def _start(
    stack: contextlib.AsyncExitStack, broker: Broker, work_dir: Path, *where: tuple[str, str]
) -> list[ServiceProcess]:
    """Service processes (database URL, name) with `broker`, started side by side."""
    started = await asyncio.gather(
        *(
            stack.enter_async_context(
                run_service(url, work_dir, f"brokers_{broker.kind}_{name}", **broker.env)
            )
            for url, name in where
        ),
        return_exceptions=True,  # every start finished before the stack unwinds
    )
    nodes = [n for n in started if isinstance(n, ServiceProcess)]
    if len(nodes) < len(where):
        raise next(n for n in started if isinstance(n, BaseException))
    return nodes


async def measure(broker: Broker, durable: Side, fast: Side, work_dir: Path) -> dict[str, Any]:
    """Ingestion on both sides, latency and the raw loop on the fsync-on side."""
    started = time.monotonic()
    level = env_int("BENCH_BROKERS_LEVEL", 8)
    events = env_int("BENCH_BROKERS_EVENTS", 800)
    result: dict[str, Any] = {"ingest": {}}
    async with contextlib.AsyncExitStack() as stack:
        off, a = await _start(stack, broker, work_dir, (fast.url, fast.name), (durable.url, "A"))
        result["ingest"][fast.name] = await ingest(broker, fast, off, level, events)
        await stop_process(off.proc)  # A takes its fsync-on webhooks alone
        result["ingest"][durable.name] = await ingest(broker, durable, a, level, events)
        b, c = await _start(stack, broker, work_dir, (durable.url, "B"), (durable.url, "C"))
        result["push"] = await latency(
            broker,
            durable,
            [a, b, c],
            work_dir,
            sockets=env_int("BENCH_BROKERS_SOCKETS", 300),
            rate=env_float("BENCH_BROKERS_RATE", 200),
            seconds=env_float("BENCH_BROKERS_SECONDS", 4),
        )
    url = broker.server.url if broker.server is not None else durable.url
    reader = broker_raw.server_cpu_reader(broker.pid, durable.postmaster)
    result["raw"] = await broker_raw.run(
        broker.kind,
        url,
        env_int("BENCH_BROKERS_SUBSCRIBERS", 256),
        env_float("BENCH_BROKERS_RAW_SECONDS", 2),
        reader,
    )
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


async def run(
    durable: Side, fast: Side, work_dir: Path, kinds: list[str], kib_sockets_bench: float | None
) -> dict[str, Any]:
    await durable.prepare()
    await fast.prepare()
    per_broker: dict[str, Any] = {}
    for kind in kinds:
        server = start_broker(kind)
        try:
            per_broker[kind] = await measure(Broker(kind, server), durable, fast, work_dir)
        finally:
            if server is not None:
                server.stop()
    sizing = broker_sizing.size(per_broker, kib_sockets_bench)
    broker_sizing.print_table(sizing)
    return {
        "databases": {side.name: side.settings for side in (durable, fast)},
        "concurrency": env_int("BENCH_BROKERS_LEVEL", 8),
        "per_broker": per_broker,
        "sizing": sizing,
    }


async def run_from_env(
    pg: TestPostgres, work_dir: Path, sockets: dict[str, Any] | None
) -> dict[str, Any]:
    """Sized by BENCH_BROKERS_* (see __main__); `pg` is the bench's fsync-off server, the
    fsync-on one is started here (or BENCH_BROKERS_DURABLE_DATABASE_URL's);
    `sockets` the sockets benchmark's result, when it ran."""
    kinds = [k.strip() for k in os.environ.get("BENCH_BROKERS", ",".join(KINDS)).split(",")]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"BENCH_BROKERS: unknown broker(s) {unknown}; choose from {KINDS}")
    # Room for the raw loop's LISTEN connections beside the services' pools.
    subscribers = env_int("BENCH_BROKERS_SUBSCRIBERS", 256)
    durable_pg = TestPostgres.start(
        os.environ.get("BENCH_BROKERS_DURABLE_DATABASE_URL"),
        durable=True,
        max_connections=subscribers + 100,
    )
    sides: list[Side] = []
    try:
        sides.append(Side("fsync_on", durable_pg))
        sides.append(Side("fsync_off", pg))
        kib = sockets.get("kib_per_socket") if sockets else None
        return await run(sides[0], sides[1], work_dir, kinds, kib)
    finally:
        for side in sides:
            side.pg.drop_database(side.url)
        durable_pg.stop()


def table_rows(brokers: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    if brokers is None:
        return []
    return broker_sizing.table_rows(brokers)
