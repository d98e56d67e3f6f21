"""Benchmark 2: webhook to browser (DESIGN §10).

Client processes hold one WebSocket per payment, each subscribed with its status token.
This process POSTs signed webhooks (built and signed beforehand, sent by the lean client
of ``http_load.py``), paced at a fixed rate, round-robin over the payments,
so every event bumps one payment by one version. Latency: from just before the POST is
sent to the moment the client process reads the update carrying that version (both on
CLOCK_MONOTONIC). An event is missing when no update at or above its version arrived.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.tokens import issue_status_token
from tests.bench import targets
from tests.bench.client_procs import ClientGroup
from tests.bench.common import (
    STATUS_SECRET,
    ServiceProcess,
    autovacuum_passes,
    failed_intent_event,
    ms,
    percentile,
    webhook_headers,
)
from tests.bench.http_load import HttpConnections, build_post
from tests.bench.setup import BenchPayment


def subscriptions(payments: Sequence[BenchPayment], count: int) -> list[list[str]]:
    """`count` sockets, socket i watching payment i % len(payments), with its token."""
    now = int(time.time())
    tokens = {
        p.id: issue_status_token(STATUS_SECRET.encode(), str(p.id), now, 3600) for p in payments
    }
    return [
        [str(payments[i % len(payments)].id), tokens[payments[i % len(payments)].id]]
        for i in range(count)
    ]


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def first_at_or_above(
    received: list[tuple[int, int, float]], count: int
) -> list[tuple[list[int], list[float]]]:
    """Per socket: versions (ascending) and, for each, the earliest time one at or above
    it arrived."""
    per: list[list[tuple[int, float]]] = [[] for _ in range(count)]
    for index, version, at in received:
        per[index].append((version, at))
    out = []
    for items in per:
        items.sort()
        versions = [v for v, _ in items]
        times = [t for _, t in items]
        for i in range(len(times) - 2, -1, -1):  # earliest arrival covering each version
            times[i] = min(times[i], times[i + 1])
        out.append((versions, times))
    return out


def window_p99s(samples: Sequence[tuple[int, float]], per_window: int) -> list[float]:
    """The p99 latency of each successive `per_window` events of a run (one second's
    worth at its rate), from (event index, latency) samples; a last, partial window is
    left out.

    A ten-second run gives ten figures of the same size as "the first second after
    start", so that row can be compared with seconds like it rather than with the whole
    run's p99: of 500 events, the handful slowed at any burst's start set the p99; of
    5,000 they are diluted ten times.
    """
    if per_window < 1:
        raise ValueError("per_window must be at least 1")
    buckets: dict[int, list[float]] = {}
    for index, latency in samples:
        buckets.setdefault(index // per_window, []).append(latency)
    if not buckets:
        return []
    full = (max(index for index, _ in samples) + 1) // per_window
    return [percentile(buckets[w], 99) for w in range(full) if w in buckets]


async def paced_run(
    service: ServiceProcess,
    group: ClientGroup,
    payments: list[BenchPayment],
    versions: list[int],
    rate: float,
    seconds: float,
    first_second: bool = False,
    label: str = "push",
    database_url: str | None = None,
) -> dict[str, Any]:
    """One paced run; `versions` (each payment's current version) is advanced in place.
    Socket s watches payment s % len(payments) (``subscriptions``): an event is due on
    every socket watching its payment, and missing from each one it never reached."""
    total = int(rate * seconds)
    count = len(payments)
    bodies = [
        failed_intent_event(payments[k % count].intent_id, "", int(time.time()))
        for k in range(total)
    ]
    expected = []
    for k in range(total):
        versions[k % count] += 1
        expected.append(versions[k % count])
    sent = [0.0] * total
    status = [0] * total
    url = service.url + "/webhooks/stripe"
    requests = [build_post(url, body, webhook_headers(body)) for body in bodies]
    conns = HttpConnections(url)
    try:

        async def post(k: int) -> None:
            sent[k] = time.monotonic()
            status[k], _ = await conns.send(requests[k])

        await conns.warm(16)
        vacuumed0 = await autovacuum_passes(database_url) if database_url else 0
        busy0, total0 = cpu_busy()
        start = time.monotonic() + 0.05
        tasks = []
        behind = 0.0
        for k in range(total):
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = max(behind, -delay)
            tasks.append(asyncio.create_task(post(k)))
        await asyncio.gather(*tasks)
        busy1, total1 = cpu_busy()
        await asyncio.sleep(1.0)  # let the last pushes land
        vacuumed1 = await autovacuum_passes(database_url) if database_url else 0
    finally:
        await conns.close()
    received, closed = await group.report()
    arrivals = first_at_or_above(received, group.size)
    latencies = []
    by_event: list[tuple[int, float]] = []
    missing = due = 0
    for k in range(total):
        for socket in range(k % count, group.size, count):
            due += 1
            got_versions, times = arrivals[socket]
            pos = bisect.bisect_left(got_versions, expected[k])
            if pos == len(got_versions):
                missing += 1
                continue
            latency = times[pos] - sent[k]
            latencies.append(latency)
            by_event.append((k, latency))
    windows = [ms(p) for p in window_p99s(by_event, max(1, round(rate)))]
    result = {
        "rate_per_s": rate,
        "events": total,
        "deliveries_due": due,
        "post_errors": sum(1 for s in status if s != 200),
        "pacer_max_behind_ms": ms(behind),
        "missing": missing,
        "sockets_closed": closed,
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies) if latencies else float("nan")),
        # p99 of each second of the run (its events in send order, `rate` a window)
        "second_p99_ms": windows,
        "machine_cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        # PostgreSQL's own upkeep in the window (a pass over a table's sample costs tens
        # of ms of a core), counted so a run's tail can be told from the service's.
        "autovacuum_passes": vacuumed1 - vacuumed0 if database_url else None,
        "target_p99_ms": targets.PUSH_P99_MS,
    }
    print(
        f"  {label}{' first second' if first_second else ''}: {total} events at {rate:.0f}/s to "
        f"{group.size} sockets: "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, missing {missing}",
        flush=True,
    )
    return result


def latency_rows(name: str, run: dict[str, Any], target: str) -> list[tuple[str, str, str, str]]:
    """The report's rows for one ``paced_run``: latency (against `target`), missing."""
    return [
        (
            name,
            "webhook->browser p50 / p99 / max ms",
            f"{run['p50_ms']} / {run['p99_ms']} / {run['max_ms']}",
            target,
        ),
        (name, "missing updates", str(run["missing"]), "0"),
    ]


async def run(
    service: ServiceProcess,
    payments: list[BenchPayment],
    work_dir: Path,
    *,
    database_url: str,
    rates: list[float],
    seconds: float,
    client_processes: int,
) -> dict[str, Any]:
    subs = subscriptions(payments, len(payments))
    ws_url = service.url.replace("http://", "ws://") + "/ws"
    group = await ClientGroup.start(ws_url, subs, client_processes, work_dir, "push")
    runs = []
    try:
        if group.ready != len(subs):
            raise RuntimeError(f"only {group.ready} of {len(subs)} sockets subscribed")
        versions = [p.version for p in payments]
        # The first second of webhooks after start (issue 21: as fast as later ones),
        # reported on its own row; the measured runs come after it.
        first_second = await paced_run(
            service,
            group,
            payments,
            versions,
            rates[0],
            1.0,
            first_second=True,
            database_url=database_url,
        )
        for rate in rates:
            runs.append(
                await paced_run(
                    service, group, payments, versions, rate, seconds, database_url=database_url
                )
            )
    finally:
        await group.close()
    return {
        "sockets": len(subs),
        "client_processes": client_processes,
        "first_second": first_second,
        "runs": runs,
    }
