"""Benchmark 7: webhook ingestion end to end, measured as an outside check would (issue 21).

The ingest benchmark's client is wrk-like (requests built and signed beforehand, one raw
keep-alive connection per worker) and drives ``tests.bench.server``. Here the service is
``python -m service serve`` itself, one process and then ``--workers 2``, fed by an
ordinary aiohttp ``ClientSession`` from this process, 16 signed deliveries at once. The
reference is fixed, whatever the service's statements become: per event one asyncpg
transaction from this process, BEGIN, the inbox row, the payment ``FOR UPDATE``, the
attempt, the change with its timeline row and NOTIFY, COMMIT (six round trips: the
service's statements until its change took the inbox row and the attempt along), same
concurrency, same pool size. Reference and service alternate, ``rounds`` times.

Sizes (environment): BENCH_E2E_EVENTS per side (3000), BENCH_E2E_CONCURRENCY (16),
BENCH_E2E_WORKERS the ``--workers`` values (1,2), BENCH_E2E_ROUNDS (2).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench import bench_ingest, targets
from tests.bench.common import (
    autovacuum_passes,
    env_int,
    env_ints,
    free_port,
    service_env,
    stop_process,
    wait_ready,
    webhook_headers,
)
from tests.bench.setup import BenchPayment, make_payments
from tests.support.postgres import TestPostgres


@contextlib.asynccontextmanager
async def serving(database_url: str, log_dir: Path, workers: int) -> AsyncIterator[str]:
    """``python -m service serve --workers N`` on a free port, until the block ends."""
    port = free_port()
    env = service_env(database_url)
    with (log_dir / f"e2e-workers-{workers}.log").open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url + "/readyz", proc)
        yield url
    finally:
        await stop_process(proc)


async def _service_side(
    url: str, payments: list[BenchPayment], concurrency: int, count: int
) -> bench_ingest.LevelResult:
    bodies = bench_ingest._bodies(payments, count + concurrency * 2)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(i: int, worker: int = 0) -> bool:
            body = bodies[i]
            async with session.post(
                url + "/webhooks/stripe", data=body, headers=webhook_headers(body)
            ) as response:
                return response.status == 200 and b'"applied"' in await response.read()

        await asyncio.gather(*(post(count + i) for i in range(concurrency * 2)))  # warm
        seconds, latencies, errors = await bench_ingest._drive(count, concurrency, post)
    return bench_ingest.LevelResult(concurrency, count, seconds, latencies, errors)


async def run(
    database_url: str,
    payments: list[BenchPayment],
    work_dir: Path,
    *,
    workers: list[int],
    concurrency: int,
    events: int,
    rounds: int,
    pool_max: int,
) -> dict[str, Any]:
    share = max(1, events // rounds)
    rows: list[dict[str, Any]] = []
    for n in workers:
        refs, svcs = [], []
        passes = {"service": 0, "reference_sql": 0}  # autovacuum's, during each side
        async with serving(database_url, work_dir, n) as url:
            for _ in range(rounds):
                before = await autovacuum_passes(database_url)
                refs.append(
                    await bench_ingest.run_reference_level(
                        database_url, payments, concurrency, share, pool_max, six_round_trips=True
                    )
                )
                between = await autovacuum_passes(database_url)
                svcs.append(await _service_side(url, payments, concurrency, share))
                passes["reference_sql"] += between - before
                passes["service"] += await autovacuum_passes(database_url) - between
        label = f"e2e --workers {n}, c={concurrency}"
        row = bench_ingest.compared(refs, svcs, label, workers=n)
        rows.append({**row, "autovacuum_passes": passes})
    return {
        "concurrency": concurrency,
        "events_per_side": share * rounds,
        "rounds": rounds,
        "runs": rows,
        "target_ratio_one_process": targets.E2E_RATIO_ONE_PROCESS,
    }


async def run_from_env(pg: TestPostgres, work_dir: Path, pool_max: int) -> dict[str, Any]:
    url = pg.create_database("bench_e2e")
    payments = await make_payments(url, env_int("BENCH_INGEST_PAYMENTS", 1000))
    try:
        return await run(
            url,
            payments,
            work_dir,
            workers=list(env_ints("BENCH_E2E_WORKERS", (1, 2))),
            concurrency=env_int("BENCH_E2E_CONCURRENCY", 16),
            events=env_int("BENCH_E2E_EVENTS", 3000),
            rounds=env_int("BENCH_E2E_ROUNDS", 2),
            pool_max=pool_max,
        )
    finally:
        pg.drop_database(url)


def table_rows(e2e: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    if e2e is None:
        return []
    rows = []
    for run_ in e2e["runs"]:
        name = f"e2e --workers {run_['workers']} c={e2e['concurrency']}"
        svc, ref = run_["service"], run_["reference_sql"]
        rows += [
            (
                name,
                "service / reference SQL events/s",
                f"{svc['events_per_s']:,} / {ref['events_per_s']:,}",
                "",
            ),
            (
                name,
                "ratio",
                f"{run_['ratio']:.2f}",
                f">= {targets.E2E_RATIO_ONE_PROCESS}" if run_["workers"] == 1 else "",
            ),
            (name, "service p50 / p99 ms", f"{svc['p50_ms']} / {svc['p99_ms']}", ""),
            (
                name,
                "autovacuum passes: service / reference",
                "{service} / {reference_sql}".format(**run_["autovacuum_passes"]),
                "",
            ),
        ]
    return rows
