"""``make bench`` at toy sizes: every benchmark still runs end to end and reports sanely.

The figures themselves are not checked here (timed tests on a shared machine only
flake); this keeps the benchmark code from rotting between runs of ``make bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT
from tests.support.postgres import TestPostgres

TOY_SIZES = {
    "BENCH_INGEST_LEVELS": "1,4",
    "BENCH_INGEST_EVENTS": "40",
    "BENCH_INGEST_PAYMENTS": "20",
    "BENCH_PUSH_SOCKETS": "20",
    "BENCH_PUSH_RATES": "50",
    "BENCH_PUSH_SECONDS": "1",
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
}


@pytest.mark.slow
def test_make_bench_runs_every_benchmark(postgres: TestPostgres, tmp_path: Path) -> None:
    output = tmp_path / "bench-results.json"
    env = {
        **os.environ,
        **TOY_SIZES,
        "BENCH_DATABASE_URL": postgres.admin_url,
        "BENCH_OUTPUT": str(output),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # five benchmarks, eight service processes started
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
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

    (push,) = results["push"]["runs"]
    assert push["events"] == 50
    assert push["post_errors"] == 0
    assert push["missing"] == 0

    sockets = results["sockets"]
    assert sockets["sockets"] == 40
    assert [p["missing"] for p in sockets["pushes"]] == [0, 0]
    assert [p["delivered"] for p in sockets["pushes"]] == [40, 40]
    assert sockets["kib_per_socket"] > 0

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
