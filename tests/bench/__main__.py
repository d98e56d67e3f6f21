"""``python -m tests.bench`` (``make bench``): the DESIGN §10 benchmarks in one run.

Starts a throwaway PostgreSQL (or uses ``BENCH_DATABASE_URL``'s server), runs each
benchmark against the service in its own process with the load in other processes,
prints a table and writes ``bench-results.json`` at the repository root.

Sizes (environment; defaults fit the whole run in a few minutes on 2 cores):
  BENCH_ONLY                 comma list of ingest,history,push,sockets,create,notify,
                             e2e,brokers (default: all)
  BENCH_INGEST_LEVELS        concurrency levels (1,8,32)
  BENCH_INGEST_EVENTS        events per level, for the service and the reference (3000)
  BENCH_INGEST_PAYMENTS      payments the events are spread over (1000)
  BENCH_HISTORY_ROWS         history: the ingest benchmark again, on a database already
                             holding this many payments with their attempts, events and
                             timeline rows (1000000; about a minute to store)
  BENCH_PUSH_SOCKETS         sockets, one payment each (1000)
  BENCH_PUSH_HISTORY         payments' history stored (and vacuumed) beforehand, as in
                             a database that has been serving (300000): on young tables
                             the default rates' 17,500 events cross autovacuum's
                             thresholds, and a pass lands in a paced run by chance
  BENCH_PUSH_RATES           webhooks per second, one paced run each (500,1000,200);
                             the first second after start is paced at the first
  BENCH_PUSH_SECONDS         how long the paced load runs (10)
  BENCH_PUSH_CLIENT_PROCS    client processes (1)
  BENCH_SOCKETS              idle subscribed sockets (10000)
  BENCH_SOCKETS_PAYMENTS     payments they watch (1: every socket watches the same one)
  BENCH_SOCKETS_CLIENT_PROCS client processes (4)
  BENCH_SOCKETS_PUSHES       updates pushed to all of them (3)
  BENCH_SOCKETS_LEAN         0: aiohttp's WebSocket client in the client processes instead
                             of ws_lean.py's (1)
  BENCH_CREATE_LEVELS        concurrency levels (1,16)
  BENCH_CREATE_REQUESTS      requests per level and side (400)
  BENCH_NOTIFY_*             merchant notifications: see bench_notify.py
  BENCH_E2E_*                ingestion into `python -m service serve [--workers 2]` from
                             an aiohttp client: see bench_e2e.py
  BENCH_BROKERS              which REALTIME_BROKERs (postgres,redis,nats), each on a
                             real server; per broker: ingestion with fsync on beside
                             off, webhook -> browser over three processes, the raw
                             delivery rate, CPU per webhook, then a 1M-socket sizing
                             (bench_brokers.py; redis-server and nats-server needed)
  BENCH_BROKERS_LEVEL        ingestion concurrency, one service process (8)
  BENCH_BROKERS_EVENTS       webhooks per ingestion run (800)
  BENCH_BROKERS_SOCKETS      sockets on processes B and C, half each (300)
  BENCH_BROKERS_RATE         webhooks per second into process A (200)
  BENCH_BROKERS_SECONDS      how long that paced load runs (4)
  BENCH_BROKERS_SUBSCRIBERS  raw publish/subscribe loop: subscribers (256)
  BENCH_BROKERS_RAW_SECONDS  raw loop: how long it publishes (2)
  BENCH_BROKERS_DURABLE_DATABASE_URL  the fsync-on server (default: one started here)
  BENCH_LOG_LEVEL            the service's LOG_LEVEL (INFO, as in production)
  BENCH_DB_POOL_MAX_SIZE     the service's pool size, also the reference's (10)
  BENCH_WHATIF_GC            1: push and sockets again with CPython's GC defaults (0)
  BENCH_GC_LOG               1: the service prints every GC pause over 5 ms to its log
  BENCH_PROFILE_DIR          write a cProfile of each service process there
  BENCH_OUTPUT               where to write the JSON (bench-results.json)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from service.config import PROJECT_ROOT
from service.gc_tuning import tune_for_serving
from tests.bench import (
    bench_brokers,
    bench_create,
    bench_e2e,
    bench_ingest,
    bench_notify,
    bench_push,
    bench_sockets,
)
from tests.bench.common import (
    ServiceProcess,
    env_float,
    env_int,
    env_ints,
    gc_pauses,
    postmaster_pid,
    raise_fd_limit,
    run_emulator,
)
from tests.bench.common import run_service as service_process
from tests.bench.report import context_rows, print_table, table
from tests.bench.setup import BenchPayment, make_payments, store_history
from tests.support.postgres import TestPostgres

ALL = ("ingest", "history", "push", "sockets", "create", "notify", "e2e", "brokers")

# The what-if runs: the service with CPython's default GC thresholds instead of the
# tuning ``python -m service serve`` applies (service/gc_tuning.py).
GC_DEFAULT = {"BENCH_GC_THRESHOLD": "default"}


async def _pg_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def _git_commit() -> str | None:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or None


def _context(result: dict[str, Any], log_path: Path, load_before: float) -> None:
    """What else was going on: the service's GC pauses, and the machine's load."""
    result["service_gc_pauses"] = gc_pauses(log_path)
    result["loadavg_1m_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]


async def run_all(pg: TestPostgres, only: list[str], work_dir: Path) -> dict[str, Any]:
    # The load comes from this process too (webhooks, the reference SQL driver): GC tuned
    # as in the service, so its own pauses do not count against either.
    tune_for_serving()
    results: dict[str, Any] = {}
    pool_max = env_int("BENCH_DB_POOL_MAX_SIZE", 10)

    async def measured(
        name: str,
        payment_count: int,
        run: Callable[[ServiceProcess, str, list[BenchPayment]], Awaitable[dict[str, Any]]],
        history: int = 0,
        service_env: dict[str, str] | None = None,
    ) -> None:
        """One benchmark: its own database with `history` payments' bulk history (see
        tests/support/history.py) and `payment_count` open payments, the service in its
        own process, then what else went on (GC pauses, load) beside the results."""
        url = pg.create_database(f"bench_{name.removesuffix('_gc_default')}")
        if history:
            await store_history(url, history)
        payments = await make_payments(url, payment_count)
        load = os.getloadavg()[0]
        async with service_process(url, work_dir, name, **(service_env or {})) as service:
            results[name] = await run(service, url, payments)
        _context(results[name], service.log_path, load)
        pg.drop_database(url)

    def ingestion(
        service: ServiceProcess, url: str, payments: list[BenchPayment]
    ) -> Awaitable[dict[str, Any]]:
        levels = env_ints("BENCH_INGEST_LEVELS", (1, 8, 32))
        events = env_int("BENCH_INGEST_EVENTS", 3000)
        return bench_ingest.run(service, url, payments, levels, events, pool_max)

    open_payments = env_int("BENCH_INGEST_PAYMENTS", 1000)
    if "ingest" in only:
        await measured("ingest", open_payments, ingestion)
    if "history" in only:  # the same, on a million stored payments (issue 21)
        stored = env_int("BENCH_HISTORY_ROWS", 1_000_000)
        await measured("history", open_payments, ingestion, history=stored)
        results["history"]["stored_payments"] = stored

    variants: list[tuple[str, dict[str, str]]] = [("", {})]
    if os.environ.get("BENCH_WHATIF_GC", "0") != "0":
        variants.append(("_gc_default", GC_DEFAULT))
    push_history = env_int("BENCH_PUSH_HISTORY", 300_000)
    for suffix, extra in variants:
        if "push" in only:
            await measured(
                "push" + suffix,
                env_int("BENCH_PUSH_SOCKETS", 1000),
                lambda service, url, payments: bench_push.run(
                    service,
                    payments,
                    work_dir,
                    database_url=url,
                    rates=[float(r) for r in env_ints("BENCH_PUSH_RATES", (500, 1000, 200))],
                    seconds=env_float("BENCH_PUSH_SECONDS", 10),
                    client_processes=env_int("BENCH_PUSH_CLIENT_PROCS", 1),
                ),
                history=push_history,
                service_env=extra,
            )
            results["push" + suffix]["stored_payments"] = push_history
        if "sockets" in only:
            await measured(
                "sockets" + suffix,
                env_int("BENCH_SOCKETS_PAYMENTS", 1),
                lambda service, url, payments: bench_sockets.run(
                    service,
                    payments,
                    work_dir,
                    sockets=env_int("BENCH_SOCKETS", 10_000),
                    client_processes=env_int("BENCH_SOCKETS_CLIENT_PROCS", 4),
                    pushes=env_int("BENCH_SOCKETS_PUSHES", 3),
                ),
                service_env=extra,
            )

    if "create" in only:
        url = pg.create_database("bench_create")
        load = os.getloadavg()[0]
        async with (
            run_emulator(work_dir) as emulator_url,
            service_process(url, work_dir, "create", STRIPE_API_BASE=emulator_url) as service,
        ):
            results["create"] = await bench_create.run(
                service,
                emulator_url,
                env_ints("BENCH_CREATE_LEVELS", (1, 16)),
                env_int("BENCH_CREATE_REQUESTS", 400),
                postmaster=await postmaster_pid(url),
            )
        _context(results["create"], service.log_path, load)
        pg.drop_database(url)
    if "notify" in only:  # merchant notifications (issue 16)
        results["notify"] = await bench_notify.run_from_env(pg, work_dir)
    if "e2e" in only:  # an outside client's view of ingestion (issue 21)
        results["e2e"] = await bench_e2e.run_from_env(pg, work_dir, pool_max)
    if "brokers" in only:  # fan-out brokers (issue 20); uses the sockets result if any
        results["brokers"] = await bench_brokers.run_from_env(pg, work_dir, results.get("sockets"))
    return results


def main() -> int:
    raw_only = os.environ.get("BENCH_ONLY", "")
    only = [n.strip() for n in raw_only.split(",") if n.strip()] or list(ALL)
    unknown = sorted(set(only) - set(ALL))
    if unknown:
        print(f"BENCH_ONLY: unknown benchmark(s) {unknown}; choose from {ALL}", file=sys.stderr)
        return 2
    raise_fd_limit()
    started = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix="paylive-bench-"))
    print(f"paylive bench: {', '.join(only)} (logs in {work_dir})", flush=True)
    pg = TestPostgres.start(os.environ.get("BENCH_DATABASE_URL"))
    try:
        pg_version = asyncio.run(_pg_version(pg.admin_url))
        results = asyncio.run(run_all(pg, only, work_dir))
    finally:
        pg.stop()
    machine = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "aiohttp": aiohttp.__version__,
        "asyncpg": asyncpg.__version__,
        "platform": platform.platform(),
        "commit": _git_commit(),
        "seconds": round(time.monotonic() - started, 1),
    }
    document = {"machine": machine, "results": results}
    output = Path(os.environ.get("BENCH_OUTPUT", PROJECT_ROOT / "bench-results.json"))
    output.write_text(json.dumps(document, indent=2) + "\n")
    header = (
        f"paylive bench {machine['date']}: {machine['nproc']} cores, Python "
        f"{machine['python']}, PostgreSQL {machine['postgresql']}, {machine['seconds']} s"
    )
    print_table(table(results) + context_rows(results), header)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
