"""``make bench`` at toy sizes: every benchmark still runs end to end and reports sanely.

The figures themselves are not checked here (timed tests on a shared machine only
flake); this keeps the benchmark code from rotting between runs of ``make bench``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from service.config import PROJECT_ROOT
from tests.bench.bench_push import window_p99s
from tests.bench.common import postgres_cpu_seconds, postmaster_pid
from tests.bench.fanout_python import fan_outs
from tests.bench.http_load import HttpConnections, build_post
from tests.bench.idle_penalty import measure as idle_penalty
from tests.bench.setup import store_history
from tests.support.postgres import TestPostgres, run_sync

TOY_SIZES = {
    "BENCH_INGEST_LEVELS": "1,4",
    "BENCH_INGEST_EVENTS": "40",
    "BENCH_INGEST_PAYMENTS": "20",
    "BENCH_PUSH_SOCKETS": "20",
    "BENCH_PUSH_RATES": "50",
    "BENCH_PUSH_SECONDS": "1",
    "BENCH_PUSH_HISTORY": "300",
    "BENCH_SOCKETS": "40",
    "BENCH_SOCKETS_CLIENT_PROCS": "2",
    "BENCH_SOCKETS_PUSHES": "2",
    "BENCH_CREATE_LEVELS": "1,2",
    "BENCH_CREATE_REQUESTS": "20",
    "BENCH_NOTIFY_RATE": "50",
    "BENCH_NOTIFY_SECONDS": "1",
    "BENCH_NOTIFY_LEVEL": "2",
    "BENCH_NOTIFY_EVENTS": "40",
    "BENCH_NOTIFY_PAYMENTS": "20",
    "BENCH_NOTIFY_ROUNDS": "1",
    "BENCH_HISTORY_ROWS": "500",
    "BENCH_E2E_EVENTS": "40",
    "BENCH_E2E_WORKERS": "1,2",
    "BENCH_BROKERS_EVENTS": "40",
    "BENCH_BROKERS_SOCKETS": "20",
    "BENCH_BROKERS_RATE": "50",
    "BENCH_BROKERS_SECONDS": "1",
    "BENCH_BROKERS_SUBSCRIBERS": "16",
    "BENCH_BROKERS_RAW_SECONDS": "0.5",
}


def _run_module(
    module: str, env: dict[str, str], *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python -m module`` from the project root; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_make_bench_runs_every_benchmark(postgres: TestPostgres, tmp_path: Path) -> None:
    output = tmp_path / "bench-results.json"
    env = {
        **os.environ,
        **TOY_SIZES,
        "BENCH_DATABASE_URL": postgres.admin_url,
        "BENCH_OUTPUT": str(output),
    }
    # six benchmarks, twenty service processes started
    done = _run_module("tests.bench", env, timeout=600)
    report = json.loads(output.read_text())
    results = report["results"]
    assert report["machine"]["nproc"] == os.cpu_count()

    levels = results["ingest"]["levels"]
    assert [level["concurrency"] for level in levels] == [1, 4]
    for level in levels:
        assert level["service"]["errors"] == 0
        assert level["reference_sql"]["errors"] == 0
        assert level["service"]["events"] == 40
        assert level["ratio"] > 0

    assert results["push"]["stored_payments"] == 300
    (push,) = results["push"]["runs"]
    assert push["events"] == 50
    assert push["post_errors"] == 0
    assert push["missing"] == 0
    # One second at 50/s: its only window is the whole run.
    assert push["second_p99_ms"] == [push["p99_ms"]]
    first = results["push"]["first_second"]  # its own row: the first second after start
    assert (first["post_errors"], first["missing"]) == (0, 0)
    assert first["p99_ms"] > 0

    sockets = results["sockets"]
    assert sockets["sockets"] == 40
    assert [p["missing"] for p in sockets["pushes"]] == [0, 0]
    assert [p["delivered"] for p in sockets["pushes"]] == [40, 40]
    assert sockets["kib_per_socket"] > 0
    for push_ in sockets["pushes"]:  # whose CPU the update to all took
        assert push_["service_cpu_ms"] >= 0
        assert push_["clients_cpu_ms"] >= 0

    assert [level["concurrency"] for level in results["create"]["levels"]] == [1, 2]
    assert "ratio service/reference" in done.stdout

    notify = results["notify"]
    assert notify["latency"]["events"] == 50
    assert notify["latency"]["post_errors"] == 0
    assert notify["latency"]["missing"] == 0
    assert notify["latency"]["commit_to_merchant_p99_ms"] > 0
    assert notify["ingest"]["off"]["errors"] == notify["ingest"]["on"]["errors"] == 0
    assert notify["ingest"]["on"]["events"] == 40
    assert notify["ingest"]["ratio_on_off"] > 0
    assert "ratio on/off" in done.stdout

    history = results["history"]
    assert history["stored_payments"] == 500
    assert [level["concurrency"] for level in history["levels"]] == [1, 4]
    assert all(level["service"]["errors"] == 0 for level in history["levels"])
    assert "ingest on history c=4" in done.stdout

    e2e = results["e2e"]
    assert [run["workers"] for run in e2e["runs"]] == [1, 2]
    for run in e2e["runs"]:
        assert run["service"]["events"] == run["reference_sql"]["events"] == 40
        assert run["service"]["errors"] == run["reference_sql"]["errors"] == 0
        assert run["ratio"] > 0
        assert set(run["autovacuum_passes"]) == {"service", "reference_sql"}
    assert "e2e --workers 2" in done.stdout

    brokers = results["brokers"]
    assert brokers["databases"]["fsync_on"] == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
    }
    assert brokers["databases"]["fsync_off"]["fsync"] == "off"
    assert list(brokers["per_broker"]) == ["postgres", "redis", "nats"]
    for kind, measured in brokers["per_broker"].items():
        for side in ("fsync_on", "fsync_off"):
            assert measured["ingest"][side]["events"] == 40, kind
            assert measured["ingest"][side]["errors"] == 0, kind
            assert measured["ingest"][side]["postgres_cpu_us_per_event"] >= 0, kind
        push = measured["push"]
        assert (push["events"], push["sockets"]) == (50, 20), kind
        assert push["deliveries_due"] == 100, kind  # each webhook due on B and on C
        assert (push["post_errors"], push["missing"], push["sockets_closed"]) == (0, 0, 0), kind
        assert 0 < push["p50_ms"] <= push["p99_ms"] <= push["max_ms"], kind
        assert (push["cpu_us_per_webhook"]["broker"] is None) == (kind == "postgres")
        raw = measured["raw"]
        assert raw["subscribers"] == 16, kind
        assert raw["published"] > 0, kind
        assert raw["lost"] == 0, kind
        assert raw["delivered"] == raw["published"] * 16, kind
    sizing = brokers["sizing"]
    assert sizing["assumptions"]["sockets"] == 1_000_000
    assert sizing["kib_per_socket_sockets_bench"] == sockets["kib_per_socket"]
    for kind, plan in sizing["per_broker"].items():
        assert plan["processes"] == max(plan["processes_by_memory"], plan["processes_by_cpu"])
        assert plan["processes"] >= 1_000_000 // plan["sockets_per_process"], kind
        assert plan["database_cores"] > 0, kind
    assert "NOTIFY rate with 16 listeners" in sizing["per_broker"]["postgres"]["verdict"]
    assert "brokers sizing: 1,000,000 sockets, 5,000 webhooks/s" in done.stdout


def test_bench_reads_the_cpu_of_one_postgresql_server(postgres: TestPostgres) -> None:
    """The brokers benchmark's database CPU: this server's postmaster and backends (live
    and exited), not every postgres process on a shared machine."""
    postmaster = run_sync(postmaster_pid(postgres.admin_url))
    assert postmaster is not None
    assert Path(f"/proc/{postmaster}/comm").read_text().strip() == "postgres"
    before = postgres_cpu_seconds(postmaster)

    async def burn() -> float:
        conn = await asyncpg.connect(postgres.admin_url)
        try:
            await conn.fetchval("SELECT count(*) FROM generate_series(1, 3000000)")
            return postgres_cpu_seconds(postmaster)  # a live backend
        finally:
            await conn.close()

    live = run_sync(burn())
    assert live - before >= 0.05
    # Once the postmaster has reaped the exited backend, its CPU is in cutime/cstime.
    deadline = time.monotonic() + 5
    while postgres_cpu_seconds(postmaster) < live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert postgres_cpu_seconds(postmaster) >= live


async def test_paced_load_replaces_connections_the_server_closed_while_idle() -> None:
    """A long paced run takes the most recently used connection first, so the others sit
    idle past the service's keep-alive and it closes them: written to, one would fail
    mid-run. Those idle past ``stale_after`` are replaced instead."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_post("/", echo)
    runner = web.AppRunner(app, keepalive_timeout=0.3)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/"
    conns = HttpConnections(url, stale_after=0.1)
    try:
        await conns.warm(3)
        await asyncio.sleep(0.6)  # every connection closed by the server meanwhile
        for n in range(5):
            body = f"request {n}".encode()
            assert await conns.send(build_post(url, body, {})) == (200, body)
    finally:
        await conns.close()
        await runner.cleanup()


def test_each_second_of_a_paced_run_gets_its_own_p99() -> None:
    """The first second after start is compared with seconds of the same size: 100
    events a window, each window's p99 its own slowest but one, and the last 50 events
    (half a window) left out."""
    samples = [(k, 0.001 * (k % 100)) for k in range(250)]
    samples += [(5, 0.5), (105, 0.2), (105, 0.3)]  # an event due on several sockets
    assert window_p99s(samples, 100) == [0.099, 0.2]
    assert window_p99s([(k, 1.0) for k in range(50)], 100) == []
    assert window_p99s([], 10) == []
    with pytest.raises(ValueError, match="per_window"):
        window_p99s(samples, 0)


def test_the_creation_floor_times_each_variant_and_the_service(
    postgres: TestPostgres,
) -> None:
    """``python -m tests.bench.create_floor`` (the README's floor under creation's
    overhead) still runs each bare variant and the service against the emulator."""
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": postgres.admin_url,
        "BENCH_FLOOR_REQUESTS": "10",
        "BENCH_FLOOR_ROUNDS": "1",
    }
    done = _run_module("tests.bench.create_floor", env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("round 0 ")]
    assert [line.split()[2].rstrip(":") for line in lines] == ["four", "row", "none", "service"]
    assert all("overhead p50" in line for line in lines)


def test_the_ingestion_floor_compares_a_bare_handler_and_the_service(
    postgres: TestPostgres,
) -> None:
    """``python -m tests.bench.ingest_floor`` (the README's ceiling on the ingestion
    ratio) still drives the bare handler and the service against the reference, every
    webhook applied."""
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": postgres.admin_url,
        "BENCH_INGEST_LEVELS": "2",
        "BENCH_INGEST_EVENTS": "20",
        "BENCH_INGEST_PAYMENTS": "10",
    }
    done = _run_module("tests.bench.ingest_floor", env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("bare ", "service "))]
    assert [line.split()[:2] for line in lines] == [["bare", "c=2:"], ["service", "c=2:"]]
    assert all(line.endswith("errors 0") for line in lines)


def test_the_idle_penalty_timing_reports_each_gap() -> None:
    """``python -m tests.bench.idle_penalty`` (the README's explanation of a burst's slow
    first second) still times a first, a second and back-to-back units per gap."""
    rows = idle_penalty(gaps=(0.0, 0.01), repetitions=2, objects=1_000)
    assert [row.gap_seconds for row in rows] == [0.0, 0.01]
    assert all(min(row.first_us, row.second_us, row.later_us) > 0 for row in rows)


def test_the_fan_out_python_timing_writes_every_update() -> None:
    """``python -m tests.bench.fanout_python`` (the README's fan-out gap) still times
    the real per-socket path: every subscriber's update goes through ``write_now``."""
    times = fan_outs(sockets=50, rounds=3)
    assert len(times) == 3
    assert all(t > 0 for t in times)


def test_stored_history_leaves_no_table_for_autovacuum_to_visit(postgres: TestPostgres) -> None:
    """The push and history benchmarks start on a vacuumed database: bulk-loaded rows
    never vacuumed would bring an autovacuum pass into the measured runs."""
    url = postgres.create_database("bench_history")
    tables = ["payment_attempts", "payment_events", "payments", "refunds", "stripe_events"]

    async def check() -> list[tuple[str, int, bool]]:
        await store_history(url, 300)
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT relname, n_ins_since_vacuum + n_mod_since_analyze AS since,"
                " last_vacuum IS NOT NULL AND last_analyze IS NOT NULL AS vacuumed"
                " FROM pg_stat_user_tables WHERE relname = ANY($1::text[]) ORDER BY relname",
                tables,
            )
        finally:
            await conn.close()
        return [(r["relname"], r["since"], r["vacuumed"]) for r in rows]

    try:
        stats = run_sync(check())
    finally:
        postgres.drop_database(url)
    assert stats == [(name, 0, True) for name in tables]
