"""Benchmark 1: webhook ingestion end to end vs the raw SQL transaction (DESIGN §10).

Signed, unique ``payment_intent.payment_failed`` events for existing payments are POSTed
to the service (its own process) at fixed concurrency levels, one keep-alive connection
per worker, by the lean client of ``http_load.py``; each records an attempt,
bumps the version, adds a timeline row and NOTIFYs. The reference drives the same SQL
transaction (the service's repository calls, with what the domain rules decide worked out
beforehand) straight through asyncpg from this process, at the same concurrency and with
the same pool size as the service. Requests are built and signed before timing starts.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.db.payments_repo import PaymentsRepo
from service.db.pool import create_pool
from service.payments.event_rules import attempt_from_event, event_rank
from service.payments.models import Change, NewAttempt, PaymentUpdate
from tests.bench import targets
from tests.bench.common import (
    ServiceProcess,
    cpu_seconds,
    cpu_times,
    failed_intent_event,
    ms,
    percentile,
    postgres_cpu_seconds,
    webhook_headers,
)
from tests.bench.http_load import HttpConnection, build_post
from tests.bench.setup import BenchPayment


@dataclass
class LevelResult:
    concurrency: int
    events: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu_seconds: float | None = None
    cpu_of: str = "service"  # whose CPU: the service process, or this driver process
    sys_seconds: float | None = None  # the kernel's share of cpu_seconds
    postgres_seconds: float | None = None  # PostgreSQL's CPU meanwhile
    broker_seconds: float | None = None  # the fan-out broker server's CPU meanwhile

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "concurrency": self.concurrency,
            "events": self.events,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.rate, 1),
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p99_ms": ms(percentile(self.latencies, 99)),
        }
        if self.postgres_seconds is not None and self.events:
            out["postgres_cpu_us_per_event"] = round(self.postgres_seconds / self.events * 1e6, 1)
        if self.broker_seconds is not None and self.events:
            out["broker_cpu_us_per_event"] = round(self.broker_seconds / self.events * 1e6, 1)
        if self.cpu_seconds is not None and self.events:
            out[f"{self.cpu_of}_cpu_us_per_event"] = round(self.cpu_seconds / self.events * 1e6, 1)
            if self.sys_seconds is not None:
                out[f"{self.cpu_of}_sys_cpu_us_per_event"] = round(
                    self.sys_seconds / self.events * 1e6, 1
                )
        return out


def _bodies(payments: list[BenchPayment], count: int) -> list[bytes]:
    now = int(time.time())
    return [
        failed_intent_event(payments[i % len(payments)].intent_id, "", now) for i in range(count)
    ]


async def _drive(count: int, concurrency: int, call: Any) -> tuple[float, list[float], int]:
    """Run `call(i, worker)` for i in range(count) with `concurrency` workers; wall time,
    latencies."""
    latencies: list[float] = [0.0] * count
    errors = 0
    next_index = 0

    async def worker(w: int) -> None:
        nonlocal next_index, errors
        while next_index < count:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            if not await call(i, w):
                errors += 1
            latencies[i] = time.perf_counter() - started

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return time.perf_counter() - started, latencies, errors


async def run_service_level(
    service: ServiceProcess,
    payments: list[BenchPayment],
    concurrency: int,
    count: int,
    *,
    postmaster: int | None = None,
    broker_pid: int | None = None,
) -> LevelResult:
    """`count` webhooks at `concurrency`; PostgreSQL's CPU: of the server `postmaster`
    (else every postgres process); the broker server's, given its pid."""
    url = service.url + "/webhooks/stripe"
    requests = [build_post(url, b, webhook_headers(b)) for b in _bodies(payments, count)]
    warm = [build_post(url, b, webhook_headers(b)) for b in _bodies(payments, concurrency * 2)]
    conns = [await HttpConnection.open(url) for _ in range(concurrency)]
    try:

        async def post(i: int, request: bytes) -> bool:
            status, answer = await conns[i % concurrency].send(request)
            return status == 200 and b'"applied"' in answer

        # Warm the connections (and the service's code paths) outside the timing; each
        # worker keeps to its own connection, one request at a time.
        async def warm_up(w: int) -> None:
            for request in warm[w::concurrency]:
                await post(w, request)

        await asyncio.gather(*(warm_up(w) for w in range(concurrency)))
        user0, sys0 = cpu_times(service.pid)
        pg0 = postgres_cpu_seconds(postmaster)
        broker0 = cpu_seconds(broker_pid) if broker_pid else 0.0
        seconds, latencies, errors = await _drive(
            count, concurrency, lambda i, w: post(w, requests[i])
        )
        user1, sys1 = cpu_times(service.pid)
        pg1 = postgres_cpu_seconds(postmaster)
        broker1 = cpu_seconds(broker_pid) if broker_pid else 0.0
    finally:
        for conn in conns:
            await conn.close()
    return LevelResult(
        concurrency,
        count,
        seconds,
        latencies,
        errors,
        user1 - user0 + sys1 - sys0,
        "service",
        sys1 - sys0,
        pg1 - pg0,
        broker1 - broker0 if broker_pid else None,
    )


@dataclass(frozen=True)
class Prepared:
    """One event, with what the domain rules would decide worked out before timing."""

    text: str
    event: dict[str, Any]
    attempt: NewAttempt
    change: Change


def prepare(body: bytes) -> Prepared:
    text = body.decode()
    event = json.loads(text)
    intent = event["data"]["object"]
    attempt = attempt_from_event(event)
    assert attempt is not None
    status = "requires_payment_method"
    change = Change(
        kind=event["type"],
        cause_type="stripe_event",
        cause_id=event["id"],
        status=status,
        update=PaymentUpdate(amount_capturable=intent["amount_capturable"]),
        data={
            "stripe_status": intent["status"],
            "attempt": {
                "outcome": attempt.outcome,
                "error_code": attempt.error_code,
                "decline_code": attempt.decline_code,
                "card_brand": attempt.card_brand,
                "card_last4": attempt.card_last4,
            },
        },
        stripe_state_at=datetime.fromtimestamp(event["created"], UTC),
        stripe_state_rank=event_rank(event["type"], status),
    )
    return Prepared(text, event, attempt, change)


async def reference_tx(
    conn: asyncpg.Connection, item: Prepared, *, six_round_trips: bool = False
) -> bool:
    """The service's own repository calls (same statements, same parameters); no HTTP,
    signature, parsing or domain rules: as the service applies these events first
    (``PgStore.optimistic``), the payment read without a lock, then the inbox row, the
    attempt and the change in the change's one statement, guarded by the row as read.
    `six_round_trips`: the statements as the service sent them before the change took
    the inbox row and the attempt along (BEGIN, inbox, lock, attempt, change, COMMIT;
    the end-to-end benchmark's fixed reference)."""
    if not six_round_trips:
        repo = PaymentsRepo(conn, notify_merchants=False, optimistic=True)
        repo.inbox_add(item.event, item.text)
        intent_id = item.event["data"]["object"]["id"]
        payment = await repo.get_payment_by_stripe_id(payment_intent=intent_id, for_update=True)
        if payment is None:
            return False
        await repo.add_attempt(payment.id, item.attempt)
        await repo.apply_change(payment, item.change)
        return True
    repo = PaymentsRepo(conn, notify_merchants=False)  # as the service without endpoints
    async with conn.transaction():
        if await repo.inbox_claim(item.event, item.text) != "new":
            return False
        intent_id = item.event["data"]["object"]["id"]
        payment = await repo.get_payment_by_stripe_id(payment_intent=intent_id, for_update=True)
        if payment is None:
            return False
        await repo.add_attempt(payment.id, item.attempt)
        await repo.flush_attempt()
        await repo.apply_change(payment, item.change)
    return True


async def run_reference_level(
    database_url: str,
    payments: list[BenchPayment],
    concurrency: int,
    count: int,
    pool_max: int,
    *,
    six_round_trips: bool = False,
) -> LevelResult:
    prepared = [prepare(body) for body in _bodies(payments, count + concurrency * 2)]
    size = min(concurrency, pool_max)
    pool = await create_pool(database_url, min_size=size, max_size=size)
    try:

        async def one(i: int, worker: int = 0) -> bool:
            async with pool.acquire() as conn:
                return await reference_tx(conn, prepared[i], six_round_trips=six_round_trips)

        await asyncio.gather(*(one(count + i) for i in range(concurrency * 2)))  # warm
        cpu_before = time.process_time()
        pg0 = postgres_cpu_seconds()
        seconds, latencies, errors = await _drive(count, concurrency, one)
        cpu = time.process_time() - cpu_before
        pg1 = postgres_cpu_seconds()
    finally:
        await pool.close()
    return LevelResult(
        concurrency, count, seconds, latencies, errors, cpu, "driver", None, pg1 - pg0
    )


def compared(
    references: list[LevelResult], services: list[LevelResult], label: str, **key: object
) -> dict[str, Any]:
    """The service's rounds against the reference's, merged, as one result row (``key``
    first), and printed under ``label``."""
    reference, service = _merge(references), _merge(services)
    ratio = service.rate / reference.rate if reference.rate else 0.0
    print(
        f"  {label}: service {service.rate:.0f}/s, reference {reference.rate:.0f}/s, "
        f"ratio {ratio:.2f}",
        flush=True,
    )
    return {
        **key,
        "service": service.summary(),
        "reference_sql": reference.summary(),
        "ratio": round(ratio, 3),
    }


def _merge(parts: list[LevelResult]) -> LevelResult:
    cpu = [p.cpu_seconds for p in parts if p.cpu_seconds is not None]
    kernel = [p.sys_seconds for p in parts if p.sys_seconds is not None]
    pg = [p.postgres_seconds for p in parts if p.postgres_seconds is not None]
    broker = [p.broker_seconds for p in parts if p.broker_seconds is not None]
    return LevelResult(
        parts[0].concurrency,
        sum(p.events for p in parts),
        sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies],
        sum(p.errors for p in parts),
        sum(cpu) if cpu else None,
        parts[0].cpu_of,
        sum(kernel) if kernel else None,
        sum(pg) if pg else None,
        sum(broker) if broker else None,
    )


async def run(
    service: ServiceProcess,
    database_url: str,
    payments: list[BenchPayment],
    levels: list[int],
    count: int,
    pool_max: int,
    rounds: int = 2,
) -> dict[str, Any]:
    """Per level, `rounds` alternations of reference and service (count/rounds events
    each), so drift in the machine or the tables' growth affects both alike."""
    rows: list[dict[str, Any]] = []
    share = max(1, count // rounds)
    for concurrency in levels:
        refs, svcs = [], []
        for _ in range(rounds):
            refs.append(
                await run_reference_level(database_url, payments, concurrency, share, pool_max)
            )
            svcs.append(await run_service_level(service, payments, concurrency, share))
        rows.append(compared(refs, svcs, f"ingest c={concurrency}", concurrency=concurrency))
    return {
        "levels": rows,
        "events_per_level": share * rounds,
        "rounds": rounds,
        "pool_max": pool_max,
        "target_ratio": targets.INGEST_RATIO,
        "min_ratio": min(r["ratio"] for r in rows) if rows else None,
    }
