"""Benchmark 4: what ``POST /api/payment-intents`` adds on top of Stripe's own latency.

The emulator runs in its own process. Its PaymentIntent create is timed directly (the
form the service sends, over a kept-alive connection), then the service's endpoint,
which writes the payment row, calls the emulator through stripe-python and attaches
the ids. Overhead = service percentile - emulator percentile, at each concurrency. Beside it, the
CPU time per create of the service process and of its PostgreSQL server (postmaster and
backends), over the measured service run: steadier than wall time on a shared machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests.bench.common import (
    API_KEY,
    DUMMY_STRIPE_KEY,
    ServiceProcess,
    cpu_seconds,
    ms,
    percentile,
    postgres_cpu_seconds,
)


async def _timed(count: int, concurrency: int, call: Callable[[], Awaitable[bool]]) -> list[float]:
    latencies: list[float] = []
    failures = 0
    remaining = count

    async def worker() -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            ok = await call()
            latencies.append(time.perf_counter() - started)
            failures += not ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise RuntimeError(f"{failures} of {count} creates failed")
    return latencies


async def run(
    service: ServiceProcess,
    emulator_url: str,
    levels: list[int],
    count: int,
    postmaster: int | None = None,
) -> dict[str, Any]:
    rows = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def direct() -> bool:
            form = {
                "amount": "2500",
                "currency": "usd",
                "capture_method": "automatic",
                "metadata[paylive_payment_id]": str(uuid.uuid4()),
                "metadata[order_id]": f"order-{uuid.uuid4().hex}",
                "automatic_payment_methods[enabled]": "true",
            }
            headers = {
                "Authorization": f"Bearer {DUMMY_STRIPE_KEY}",
                "Idempotency-Key": uuid.uuid4().hex,
                "Stripe-Version": "2026-10-28.endive",
            }
            async with session.post(
                emulator_url + "/v1/payment_intents", data=form, headers=headers
            ) as response:
                await response.read()
                return response.status == 200

        async def through_service() -> bool:
            body = {"order_id": f"order-{uuid.uuid4().hex}", "amount": 2500, "currency": "usd"}
            headers = {
                "Authorization": f"Bearer {API_KEY}",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            async with session.post(
                service.url + "/api/payment-intents", json=body, headers=headers
            ) as response:
                await response.read()
                return response.status in (200, 201)

        for concurrency in levels:
            await _timed(concurrency * 4, concurrency, direct)  # warm
            await _timed(concurrency * 4, concurrency, through_service)
            emulator = await _timed(count, concurrency, direct)
            cpu0, pg0 = cpu_seconds(service.pid), postgres_cpu_seconds(postmaster)
            service_lat = await _timed(count, concurrency, through_service)
            cpu1, pg1 = cpu_seconds(service.pid), postgres_cpu_seconds(postmaster)
            row: dict[str, Any] = {"concurrency": concurrency, "requests": count}
            row["service_cpu_ms_per_create"] = round((cpu1 - cpu0) / count * 1000, 3)
            if postmaster is not None:
                row["postgres_cpu_ms_per_create"] = round((pg1 - pg0) / count * 1000, 3)
            for q in (50, 99):
                e, s = percentile(emulator, q), percentile(service_lat, q)
                row[f"emulator_p{q}_ms"] = ms(e)
                row[f"service_p{q}_ms"] = ms(s)
                row[f"overhead_p{q}_ms"] = ms(s - e)
            rows.append(row)
            print(
                f"  create c={concurrency}: overhead p50 {row['overhead_p50_ms']} ms, "
                f"p99 {row['overhead_p99_ms']} ms (emulator p50 {row['emulator_p50_ms']} ms); "
                f"CPU per create: service {row['service_cpu_ms_per_create']} ms, "
                f"PostgreSQL {row.get('postgres_cpu_ms_per_create')} ms",
                flush=True,
            )
    return {"levels": rows}
