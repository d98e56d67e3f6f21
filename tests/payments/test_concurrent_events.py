"""Events Stripe sends together lose nothing (issue 14, item 7).

`charge.succeeded` and `payment_intent.succeeded` leave Stripe at the same moment. Applied
at once in two transactions, each used to miss the other's uncommitted row, and the
succeeded attempt ended with no card. Both now lock the payment first, so whichever
commits second completes the row; the same lock order for every event of a payment means
no deadlock either.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import Any

import pytest

from service.db.pool import create_pool
from service.db.store import PgStore
from service.payments.ingest_event import ingest_event
from service.payments.models import Payment
from tests.support.payments import add_payment
from tests.support.webhooks import card_error, intent, make_event

T0 = 1_780_000_000
PAYMENTS = 200
BRANDS = ("visa", "mastercard", "amex", "discover")


def charge(charge_id: str, pi_id: str, payment: Payment, n: int) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": 2500,
        "currency": "usd",
        "captured": True,
        "paid": True,
        "payment_intent": pi_id,
        "metadata": {"paylive_payment_id": str(payment.id)},
        "payment_method_details": {
            "type": "card",
            "card": {"brand": BRANDS[n % len(BRANDS)], "last4": f"{n % 10_000:04d}"},
        },
        "status": "succeeded",
    }


def events_of(payment: Payment, pi_id: str, n: int) -> list[dict[str, Any]]:
    """What Stripe sends for one card payment, all in the same second, plus a repeated
    delivery of the charge's event (Stripe retries when an answer is slow)."""
    charge_id = f"ch_{uuid.uuid4().hex[:24]}"
    meta = {"paylive_payment_id": str(payment.id)}
    succeeded = intent(pi_id, "succeeded", metadata=meta, latest_charge=charge_id)
    charged = make_event("charge.succeeded", charge(charge_id, pi_id, payment, n), created=T0)
    return [
        make_event("payment_intent.created", intent(pi_id, "requires_payment_method"), created=T0),
        charged,
        make_event("payment_intent.succeeded", succeeded, created=T0),
        charged,
    ]


async def test_charge_and_intent_events_at_once_keep_every_card(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=2, max_size=16)
    store = PgStore(pool)
    try:
        payments = []
        for _ in range(PAYMENTS):
            pi_id = f"pi_{uuid.uuid4().hex[:24]}"
            payments.append((await add_payment(store, intent_id=pi_id), pi_id))
        deliveries = [e for n, (p, pi_id) in enumerate(payments) for e in events_of(p, pi_id, n)]
        random.Random(14).shuffle(deliveries)
        # Every delivery at once, each in its own transaction on its own connection.
        results = await asyncio.wait_for(
            asyncio.gather(*(ingest_event(e, store=store, livemode=False) for e in deliveries)),
            timeout=120,
        )
        assert {r.outcome for r in results} <= {"applied", "no_change", "duplicate"}
        missing = []
        for n, (payment, _) in enumerate(payments):
            async with store.transaction() as tx:
                attempts = await tx.attempts(payment.id)
                now = await tx.get_payment(payment.id)
            assert now is not None
            assert now.status == "succeeded"
            assert [a.outcome for a in attempts] == ["succeeded"]
            expected = (BRANDS[n % len(BRANDS)], f"{n % 10_000:04d}")
            if (attempts[0].card_brand, attempts[0].card_last4) != expected:
                missing.append(payment.id)
        assert missing == [], f"{len(missing)} of {PAYMENTS} succeeded attempts lost their card"
    finally:
        await pool.close()


async def test_declines_of_one_payment_at_once_each_apply_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Optimistic writes that race on one payment: one wins each round, the others find
    the row moved, write nothing and go under the lock. Every decline is one version, one
    timeline row and one attempt, whatever the interleaving."""
    pool = await create_pool(database_url, min_size=2, max_size=16)
    store = PgStore(pool)
    declines = 24
    try:
        pi_id = f"pi_{uuid.uuid4().hex[:24]}"
        payment = await add_payment(store, intent_id=pi_id)
        failed = intent(
            pi_id, "requires_payment_method", last_payment_error=card_error("card_declined")
        )
        events = [
            make_event("payment_intent.payment_failed", failed, created=T0 + n)
            for n in range(declines)
        ]
        with caplog.at_level(logging.DEBUG, logger="service.payments.ingest_event"):
            results = await asyncio.wait_for(
                asyncio.gather(*(ingest_event(e, store=store, livemode=False) for e in events)),
                timeout=60,
            )
        assert [r.outcome for r in results] == ["applied"] * declines
        moved = [r for r in caplog.records if "changed since it was read" in r.getMessage()]
        assert moved, "no optimistic write met a payment that had moved: the race was not run"
        assert sorted(r.version for r in results if r.version) == list(range(2, declines + 2))
        async with store.transaction() as tx:
            timeline = await tx.timeline(payment.id)
            attempts = await tx.attempts(payment.id)
            now = await tx.get_payment(payment.id)
        assert now is not None
        assert now.version == declines + 1
        assert [e.version for e in timeline] == list(range(1, declines + 2))
        assert sorted(str(a.stripe_event_id) for a in attempts) == sorted(e["id"] for e in events)
    finally:
        await pool.close()
