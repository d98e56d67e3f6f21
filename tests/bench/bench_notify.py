"""Benchmark 5: merchant notifications (issue 16).

1. Latency: signed ``payment_intent.payment_failed`` webhooks are POSTed to the service
   (its own process, ``MERCHANT_WEBHOOK_URLS`` pointing at the merchant's process)
   at a fixed rate; each commits a version and its ``payment.attempt_failed``
   notification. Measured per event, matched by its Stripe event id (``data.cause.id``):
   from the notification's ``timestamp`` (its transaction's start, just before commit)
   to the receiver having it (both wall clock, one machine), and from just before the
   webhook POST to the same moment (monotonic).
2. Ingestion with notifications on vs off: the ingest benchmark's service side at one
   concurrency, alternating a service without ``MERCHANT_WEBHOOK_URLS`` and one with
   them (its deliveries running meanwhile, then drained before it stops).

Sizes (environment): BENCH_NOTIFY_RATE webhooks per second (200), BENCH_NOTIFY_SECONDS
of paced load (10), BENCH_NOTIFY_LEVEL ingest concurrency (8), BENCH_NOTIFY_EVENTS per
side (6000), BENCH_NOTIFY_PAYMENTS the events are spread over (1000), BENCH_NOTIFY_ROUNDS
of off/on alternation (3): 2,000 events, about 2 s, per side and round (with 1,000 the
ratio moved by ±0.03 from run to run).

The merchant is a process of its own (``merchant_server.py``), as a merchant's server is:
in this process its work would slow the load generator and count against the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench import bench_ingest, targets
from tests.bench.common import (
    env_float,
    env_int,
    failed_intent_event,
    free_port,
    ms,
    percentile,
    run_service,
    webhook_headers,
)
from tests.bench.http_load import HttpConnections, build_post
from tests.bench.setup import BenchPayment, make_payments
from tests.support.postgres import TestPostgres

SECRET = "whsec_YmVuY2gtbWVyY2hhbnQtc2VjcmV0LTAxMjM0NTY3"


class Receiver:
    """The merchant (``merchant_server.py``, a process of its own), seen from here."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.arrived: dict[str, tuple[float, float, float]] = {}  # filled by ``fetch``
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.merchant_server", str(self.port), SECRET
        )
        self._session = aiohttp.ClientSession(f"http://127.0.0.1:{self.port}")
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                await self.count()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the merchant server did not start")

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            await self._proc.wait()

    async def count(self) -> int:
        assert self._session is not None
        async with self._session.get("/count") as response:
            return int((await response.json())["count"])

    async def fetch(self) -> None:
        assert self._session is not None
        async with self._session.get("/arrivals") as response:
            self.arrived = {k: tuple(v) for k, v in (await response.json()).items()}

    async def wait_for(self, count: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            if await self.count() >= count:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)


def _on_env(receiver: Receiver) -> dict[str, str]:
    return {"MERCHANT_WEBHOOK_URLS": receiver.url, "MERCHANT_WEBHOOK_SECRET": SECRET}


async def _paced(
    url: str, payments: list[BenchPayment], receiver: Receiver, rate: float, seconds: float
) -> dict[str, Any]:
    total = max(1, int(rate * seconds))
    now = int(time.time())
    bodies = [
        failed_intent_event(payments[k % len(payments)].intent_id, "", now) for k in range(total)
    ]
    ids = [json.loads(body)["id"] for body in bodies]
    requests = [build_post(url, body, webhook_headers(body)) for body in bodies]
    sent = [0.0] * total
    status = [0] * total
    conns = HttpConnections(url)

    async def post(k: int) -> None:
        sent[k] = time.monotonic()
        status[k], _ = await conns.send(requests[k])

    try:
        await conns.warm(16)
        before = await receiver.count()
        start = time.monotonic() + 0.05
        tasks = []
        for k in range(total):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(k)))
        await asyncio.gather(*tasks)
        await receiver.wait_for(before + total, 30)
        await receiver.fetch()
    finally:
        await conns.close()
    commit, post_to = [], []
    for k, event_id in enumerate(ids):
        if event_id in receiver.arrived:
            mono, wall, stamp = receiver.arrived[event_id]
            commit.append(wall - stamp)
            post_to.append(mono - sent[k])
    return {
        "rate_per_s": rate,
        "events": total,
        "post_errors": sum(1 for s in status if s != 200),
        "missing": total - len(commit),
        "commit_to_merchant_p50_ms": ms(percentile(commit, 50)),
        "commit_to_merchant_p99_ms": ms(percentile(commit, 99)),
        "post_to_merchant_p50_ms": ms(percentile(post_to, 50)),
        "post_to_merchant_p99_ms": ms(percentile(post_to, 99)),
    }


async def run(
    database_url: str,
    payments: list[BenchPayment],
    work_dir: Path,
    *,
    rate: float,
    seconds: float,
    concurrency: int,
    events: int,
    rounds: int = 2,
) -> dict[str, Any]:
    receiver = Receiver()
    await receiver.start()
    try:
        async with run_service(database_url, work_dir, "notify", **_on_env(receiver)) as svc:
            url = svc.url + "/webhooks/stripe"
            await _paced(url, payments, receiver, rate, 1.0)  # warm-up, untimed
            latency = await _paced(url, payments, receiver, rate, seconds)
        print(
            f"  notify @{rate:.0f}/s: commit->merchant p50 "
            f"{latency['commit_to_merchant_p50_ms']} ms, p99 "
            f"{latency['commit_to_merchant_p99_ms']} ms, missing {latency['missing']}",
            flush=True,
        )
        share = max(1, events // rounds)
        sides: dict[str, list[bench_ingest.LevelResult]] = {"off": [], "on": []}
        drained: list[float] = []
        for _ in range(rounds):
            for side, env in (("off", {}), ("on", _on_env(receiver))):
                async with run_service(database_url, work_dir, f"notify_{side}", **env) as svc:
                    before = await receiver.count()
                    level = await bench_ingest.run_service_level(svc, payments, concurrency, share)
                    sides[side].append(level)
                    if side == "on":
                        started = time.monotonic()
                        # warm-up requests notify too: 2 per worker
                        await receiver.wait_for(before + share + concurrency * 2, 60)
                        drained.append(time.monotonic() - started)
    finally:
        await receiver.stop()
    off, on = (bench_ingest._merge(sides[s]) for s in ("off", "on"))
    ratio = on.rate / off.rate if off.rate else 0.0
    print(
        f"  ingest c={concurrency} notifications off {off.rate:.0f}/s, on {on.rate:.0f}/s, "
        f"ratio {ratio:.2f}",
        flush=True,
    )
    return {
        "latency": latency,
        "ingest": {
            "concurrency": concurrency,
            "off": off.summary(),
            "on": on.summary(),
            "ratio_on_off": round(ratio, 3),
            "target_ratio": targets.NOTIFY_RATIO,
            "drain_after_on_s": [round(d, 2) for d in drained],
        },
    }


async def run_from_env(pg: TestPostgres, work_dir: Path) -> dict[str, Any]:
    """The benchmark on a database of its own, sized by BENCH_NOTIFY_* (see __main__)."""
    url = pg.create_database("bench_notify")
    payments = await make_payments(url, env_int("BENCH_NOTIFY_PAYMENTS", 1000))
    load = os.getloadavg()[0]
    result = await run(
        url,
        payments,
        work_dir,
        rate=env_float("BENCH_NOTIFY_RATE", 200),
        seconds=env_float("BENCH_NOTIFY_SECONDS", 10),
        concurrency=env_int("BENCH_NOTIFY_LEVEL", 8),
        events=env_int("BENCH_NOTIFY_EVENTS", 6000),
        rounds=env_int("BENCH_NOTIFY_ROUNDS", 3),
    )
    result["loadavg_1m_before_after"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    pg.drop_database(url)
    return result


def table_rows(notify: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    if notify is None:
        return []
    lat, ingest = notify["latency"], notify["ingest"]
    name = f"notify @{lat['rate_per_s']:.0f}/s"
    level = f"notify ingest c={ingest['concurrency']}"
    return [
        (
            name,
            "commit->merchant p50 / p99 ms",
            f"{lat['commit_to_merchant_p50_ms']} / {lat['commit_to_merchant_p99_ms']}",
            "",
        ),
        (
            name,
            "webhook POST->merchant p50 / p99 ms",
            f"{lat['post_to_merchant_p50_ms']} / {lat['post_to_merchant_p99_ms']}",
            "",
        ),
        (name, "missing notifications", str(lat["missing"]), "0"),
        (
            level,
            "events/s notifications off / on",
            f"{ingest['off']['events_per_s']:,.1f} / {ingest['on']['events_per_s']:,.1f}",
            "",
        ),
        (level, "ratio on/off", f"{ingest['ratio_on_off']:.2f}", f">= {targets.NOTIFY_RATIO}"),
    ]
