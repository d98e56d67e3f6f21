"""Benchmark 3: many idle subscribed sockets in one service process (DESIGN §10).

Memory per socket is the growth of the service's RSS from before the sockets connect to
after all of them are subscribed, divided by the number of sockets. Fan-out: one webhook
per watched payment (all sockets watch the same payment by default), timed from just
before the POST to each socket's receipt of the update.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench import targets
from tests.bench.bench_push import subscriptions
from tests.bench.client_procs import ClientGroup
from tests.bench.common import (
    ServiceProcess,
    cpu_seconds,
    failed_intent_event,
    ms,
    percentile,
    rss_bytes,
    webhook_headers,
)
from tests.bench.setup import BenchPayment


def _cpu_split(service: int, clients: list[int]) -> tuple[float, float]:
    """CPU seconds so far of the service and of all client processes together."""
    return cpu_seconds(service), sum(cpu_seconds(pid) for pid in clients)


async def _settled_rss(pid: int, seconds: float = 1.0) -> int:
    await asyncio.sleep(seconds)
    return rss_bytes(pid)


async def run(
    service: ServiceProcess,
    payments: list[BenchPayment],
    work_dir: Path,
    *,
    sockets: int,
    client_processes: int,
    pushes: int,
) -> dict[str, Any]:
    gc.collect()
    subs = subscriptions(payments, sockets)
    ws_url = service.url.replace("http://", "ws://") + "/ws"
    url = service.url + "/webhooks/stripe"
    before = await _settled_rss(service.pid)
    connect_started = time.monotonic()
    # Lean clients (ws_lean.py): with aiohttp's, the clients' CPU was most of the
    # fan-out's time. BENCH_SOCKETS_LEAN=0: aiohttp's, for comparison.
    lean = os.environ.get("BENCH_SOCKETS_LEAN", "1") != "0"
    group = await ClientGroup.start(ws_url, subs, client_processes, work_dir, "sockets", lean=lean)
    rounds = []
    try:
        connect_seconds = time.monotonic() - connect_started
        after = await _settled_rss(service.pid, 2.0)
        if group.ready != sockets:
            raise RuntimeError(f"only {group.ready} of {sockets} sockets subscribed")
        async with aiohttp.ClientSession() as session:
            for round_ in range(pushes):
                bodies = [failed_intent_event(p.intent_id, "", int(time.time())) for p in payments]

                async def post(body: bytes) -> int:
                    async with session.post(
                        url, data=body, headers=webhook_headers(body)
                    ) as response:
                        await response.read()
                        return response.status

                cpu_before = _cpu_split(service.pid, group.pids)
                started = time.monotonic()
                statuses = await asyncio.gather(*(post(b) for b in bodies))
                expected = len(subs)
                deadline = time.monotonic() + 30
                received: list[tuple[int, int, float]] = []
                while True:  # poll until every socket has it (or the deadline)
                    await asyncio.sleep(0.5)
                    # CPU until the poll that sees the last delivery, before its report.
                    cpu_after = _cpu_split(service.pid, group.pids)
                    got, _closed = await group.report()
                    received += got
                    if len({i for i, _, _ in received}) >= expected:
                        break
                    if time.monotonic() > deadline:
                        break
                firsts: dict[int, float] = {}
                for index, version, at in received:
                    wanted = payments[index % len(payments)].version + round_ + 1
                    if version >= wanted and (index not in firsts or at < firsts[index]):
                        firsts[index] = at
                times = [t - started for t in firsts.values()]
                rounds.append(
                    {
                        "post_errors": sum(1 for s in statuses if s != 200),
                        "delivered": len(firsts),
                        "missing": expected - len(firsts),
                        "first_ms": ms(min(times)) if times else None,
                        "p50_ms": ms(percentile(times, 50)),
                        "p99_ms": ms(percentile(times, 99)),
                        "all_ms": ms(max(times)) if times else None,
                        "service_cpu_ms": round((cpu_after[0] - cpu_before[0]) * 1000, 1),
                        "clients_cpu_ms": round((cpu_after[1] - cpu_before[1]) * 1000, 1),
                    }
                )
                await asyncio.sleep(0.5)
        _, closed = await group.report()
    finally:
        await group.close()
    per_socket = (after - before) / sockets
    all_ms = sorted(r["all_ms"] for r in rounds if r["all_ms"] is not None)
    result = {
        "sockets": sockets,
        "client_processes": client_processes,
        "payments_watched": len(payments),
        "connect_and_subscribe_s": round(connect_seconds, 2),
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "kib_per_socket": round(per_socket / 1024, 2),
        "target_kib_per_socket": targets.KIB_PER_SOCKET,
        "target_fan_out_ms": targets.FAN_OUT_MS,
        "pushes": rounds,
        "push_all_median_ms": all_ms[len(all_ms) // 2] if all_ms else None,
        "push_all_max_ms": all_ms[-1] if all_ms else None,
        "sockets_closed": closed,
        "first_message_was_update": group.early_updates,
        "lean_clients": lean,
    }
    print(
        f"  sockets: {sockets}: {result['kib_per_socket']} KiB/socket, one update to all "
        f"in {result['push_all_median_ms']} ms (median of {len(rounds)})",
        flush=True,
    )
    return result
