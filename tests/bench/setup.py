"""Payments for the benchmarks, made straight through the store (no Stripe call)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import asyncpg

from service.db.pool import create_pool
from service.db.store import PgStore
from tests.support.history import history_sql
from tests.support.payments import add_payment


@dataclass(frozen=True)
class BenchPayment:
    id: uuid.UUID
    intent_id: str
    version: int


async def make_payments(database_url: str, count: int, workers: int = 8) -> list[BenchPayment]:
    """`count` open payments, each with a `stripe_payment_intent_id` (version 1)."""
    pool = await create_pool(database_url, min_size=1, max_size=workers)
    store = PgStore(pool)
    made: list[BenchPayment] = []

    async def one() -> None:
        intent_id = f"pi_bench_{uuid.uuid4().hex}"
        payment = await add_payment(store, intent_id=intent_id)
        made.append(BenchPayment(payment.id, intent_id, payment.version))

    async def worker(share: int) -> None:
        for _ in range(share):
            await one()

    try:
        shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        await asyncio.gather(*(worker(s) for s in shares))
    finally:
        await pool.close()
    return made


async def store_history(database_url: str, rows: int) -> None:
    """`rows` payments' worth of stored history (tests/support/history.py), vacuumed and
    analysed, as a database that has been serving would be. Bulk-loaded and never
    vacuumed, every table is past autovacuum's insert threshold: a worker visits each one
    within the minute, mid-benchmark, for seconds of a core per million rows."""
    for statements in (history_sql(rows), "VACUUM (ANALYZE)"):
        # Each on its own connection: the loading backend hands its row counts to the
        # statistics as it exits; sent after the VACUUM (ANALYZE), they would undo its
        # reset of n_ins_since_vacuum and n_mod_since_analyze, and autovacuum would come
        # anyway. (VACUUM also refuses a transaction block.)
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(statements)
        finally:
            await conn.close()
