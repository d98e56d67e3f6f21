"""Payments for the benchmarks, made straight through the store (no Stripe call)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from service.db.pool import create_pool
from service.db.store import PgStore
from service.payments.models import NewPayment


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
        payment_id = uuid.uuid4()
        intent_id = f"pi_bench_{payment_id.hex}"
        async with store.transaction() as tx:
            payment = await tx.add_payment(
                NewPayment(
                    id=payment_id,
                    order_id=f"order-{payment_id.hex}",
                    customer_id=None,
                    flow="payment_intent",
                    amount=2500,
                    currency="usd",
                    capture_method="automatic",
                    description=None,
                    metadata={},
                )
            )
            assert payment is not None
            payment = await tx.attach_stripe_ids(
                payment.id,
                stripe_payment_intent_id=intent_id,
                client_secret=f"{intent_id}_secret_bench",
            )
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
