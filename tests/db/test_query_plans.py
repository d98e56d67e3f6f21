"""Every statement the webhook path runs is an index lookup (issue 21).

A webhook's cost must not grow with history: with 20,000 payments, attempts, inbox events
and timeline rows stored (and analysed), the real pipeline (``ingest_event``) is driven
through each kind of event it handles while every statement it sends is recorded; each is
then EXPLAINed with the same arguments, and no plan may read a whole table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg.connection import LoggedQuery

from service.db.payments_repo import PaymentsRepo
from service.db.pool import create_pool
from service.db.store import autocommitting, committing
from service.payments.ingest_event import ingest_event
from tests.support.history import history_sql
from tests.support.payments import add_payment
from tests.support.webhooks import card_error, intent, make_event

ROWS = 20_000
TABLES = {"payments", "payment_attempts", "payment_events", "stripe_events", "refunds"}
T0 = 1_780_000_000


class RecordingStore:
    """A store on one connection whose every statement is recorded."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        conn.add_query_logger(self._record)

    def _record(self, record: LoggedQuery) -> None:
        if record.exception is None:
            self.statements.append((record.query, tuple(record.args or ())))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PaymentsRepo]:
        repo = PaymentsRepo(self.conn)
        async with committing(self.conn, repo, None):  # as PgStore commits
            yield repo

    @asynccontextmanager
    async def optimistic(self) -> AsyncIterator[PaymentsRepo]:
        repo = PaymentsRepo(self.conn, optimistic=True)
        async with autocommitting(repo, None):  # as PgStore applies without a transaction
            yield repo


def full_scans(plan: dict[str, Any]) -> Iterator[str]:
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in TABLES:
        yield str(plan["Relation Name"])
    for child in plan.get("Plans", []):
        yield from full_scans(child)


def webhook_traffic(paid: uuid.UUID, pi_id: str, fresh: uuid.UUID) -> list[dict[str, Any]]:
    """One of each kind of delivery: found by id and by metadata, attempts, cards,
    refunds, a Checkout session, a repeated delivery and a flagged mismatch."""
    meta = {"paylive_payment_id": str(paid)}
    charge_id = f"ch_{uuid.uuid4().hex[:20]}"
    refund = {
        "id": f"re_{uuid.uuid4().hex[:20]}",
        "object": "refund",
        "amount": 500,
        "currency": "usd",
        "status": "succeeded",
        "payment_intent": pi_id,
        "metadata": meta,
    }
    charge = {
        "id": charge_id,
        "object": "charge",
        "payment_intent": pi_id,
        "captured": True,
        "amount_refunded": 500,
        "metadata": meta,
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
        "refunds": {"object": "list", "data": [refund]},
    }
    failed = intent(
        pi_id, "requires_payment_method", last_payment_error=card_error("card_declined")
    )
    succeeded = intent(pi_id, "succeeded", metadata=meta, latest_charge=charge_id)
    by_metadata = intent(
        f"pi_{uuid.uuid4().hex[:20]}", "processing", metadata={"paylive_payment_id": str(fresh)}
    )
    session = {
        "id": f"cs_{uuid.uuid4().hex[:20]}",
        "object": "checkout.session",
        "amount_total": 1,
        "currency": "usd",
        "metadata": {"paylive_payment_id": str(fresh)},
        "payment_intent": None,
        "payment_status": "paid",
        "status": "complete",
    }
    known_session = {**session, "id": "cs_bulk_4", "metadata": {}, "amount_total": 1004}
    created = make_event(
        "payment_intent.created", intent(pi_id, "requires_payment_method"), created=T0 - 1
    )
    return [
        created,
        make_event("payment_intent.payment_failed", failed, created=T0),
        make_event("charge.succeeded", charge, created=T0 + 1),
        make_event("payment_intent.succeeded", succeeded, created=T0 + 1),
        make_event("charge.refunded", charge, created=T0 + 2),
        make_event("refund.updated", refund, created=T0 + 3),
        make_event("payment_intent.processing", by_metadata, created=T0),
        make_event("checkout.session.completed", session, created=T0),  # a mismatch
        make_event("checkout.session.completed", known_session, created=T0),
        created,  # a repeated delivery
    ]


async def test_every_webhook_statement_is_an_index_lookup(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute(history_sql(ROWS))
            await conn.execute("ANALYZE")  # plans as for tables of this size
            store = RecordingStore(conn)
            pi_id = f"pi_{uuid.uuid4().hex[:20]}"
            paid = (await add_payment(store, intent_id=pi_id)).id
            fresh = (await add_payment(store)).id
            store.statements.clear()  # what the webhooks send, not the set-up
            outcomes = [
                (await ingest_event(e, store=store, livemode=False)).outcome
                for e in webhook_traffic(paid, pi_id, fresh)
            ]
            assert outcomes == [
                "no_change",
                "applied",
                "no_change",  # the charge before its attempt: the attempt reads it
                "applied",
                "applied",
                "no_change",
                "applied",
                "mismatch",
                "no_change",
                "duplicate",
            ]
            statements: dict[str, tuple[Any, ...]] = {}
            for query, args in store.statements:
                if query.lstrip().split(None, 1)[0].upper() in (
                    "SELECT",
                    "WITH",
                    "INSERT",
                    "UPDATE",
                ):
                    statements.setdefault(query, args)
            assert len(statements) >= 10  # the path was walked
            scans: dict[str, list[str]] = {}
            for query, args in statements.items():
                raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
                plan = json.loads(raw) if isinstance(raw, str) else raw  # the pool decodes json
                found = list(full_scans(plan[0]["Plan"]))
                if found:
                    scans[" ".join(query.split())[:160]] = found
            assert scans == {}, f"full scans on the webhook path: {scans}"
    finally:
        await pool.close()
