"""The constraints of DESIGN §2 hold in the database itself, whatever the code does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    tx = connection.transaction()
    await tx.start()
    yield connection
    await tx.rollback()
    await connection.close()


async def _payment(
    conn: asyncpg.Connection, order_id: str, *args: str, **cols: object
) -> uuid.UUID:
    payment_id = uuid.uuid4()
    status = args[0] if args else "requires_payment_method"
    values = {"amount": 1000, "currency": "usd", **cols}
    names = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(4, 4 + len(values)))
    await conn.execute(
        f"INSERT INTO payments (id, order_id, status, {names}) VALUES ($1, $2, $3, {params})",  # noqa: S608 - test's own names
        payment_id,
        order_id,
        status,
        *values.values(),
    )
    return payment_id


async def test_one_open_payment_per_order(conn: asyncpg.Connection) -> None:
    await _payment(conn, "order-1")
    with pytest.raises(asyncpg.UniqueViolationError, match="payments_one_open_per_order"):
        await _payment(conn, "order-1", "requires_action")


async def test_one_succeeded_payment_per_order(conn: asyncpg.Connection) -> None:
    await _payment(conn, "order-2", "succeeded")
    await _payment(conn, "order-2", "canceled")
    await _payment(conn, "order-2", "canceled")
    with pytest.raises(asyncpg.UniqueViolationError, match="payments_one_succeeded_per_order"):
        await _payment(conn, "order-2", "succeeded")


@pytest.mark.parametrize(
    ("cols", "constraint"),
    [
        ({"amount": 0}, "payments_amount_check"),
        ({"amount": 100_000_000}, "payments_amount_check"),
        ({"currency": "USD"}, "payments_currency_check"),
        ({"amount_captured": 1001}, "payments_check"),
    ],
)
async def test_money_checks(
    conn: asyncpg.Connection, cols: dict[str, object], constraint: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match=constraint):
        await _payment(conn, f"order-{uuid.uuid4()}", **cols)


async def test_refunded_never_above_captured(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await _payment(conn, "order-3", "succeeded", amount_captured=500, amount_refunded=501)


async def test_status_is_checked(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="payments_status_check"):
        await _payment(conn, "order-4", "paid")


async def test_stripe_ids_are_unique(conn: asyncpg.Connection) -> None:
    await _payment(conn, "order-5", "canceled", stripe_payment_intent_id="pi_1")
    with pytest.raises(asyncpg.UniqueViolationError):
        await _payment(conn, "order-6", stripe_payment_intent_id="pi_1")


async def test_analyze_skips_stored_documents(conn: asyncpg.Connection) -> None:
    """ANALYZE (autovacuum's, on the webhook tables' cores) summarises no stored JSON
    document, but still the charge lookup's expression index (sql/010)."""
    await conn.execute(
        """INSERT INTO stripe_events (id, type, created, payload)
           SELECT 'evt_an_' || i, 'charge.succeeded', now(),
                  jsonb_build_object('data', jsonb_build_object('object',
                      jsonb_build_object('id', 'ch_an_' || i)))
           FROM generate_series(1, 200) AS i"""
    )
    await conn.execute("ANALYZE stripe_events")
    stats = {
        row["attname"]
        for row in await conn.fetch(
            "SELECT attname FROM pg_stats WHERE tablename = 'stripe_events'"
        )
    }
    assert "type" in stats
    assert "payload" not in stats
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'stripe_events_charge_object'"
        )
        == 1
    )
    documents = await conn.fetch(
        """SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.atttypid = 'jsonb'::regtype
             AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget <> 0"""
    )
    # every JSON column is a document (service_state's value is a few rows of settings)
    assert [(r["relname"], r["attname"]) for r in documents] == [("service_state", "value")]
