"""The outbox: a notification row exists exactly when its change committed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest

from service.db.notifications_repo import NotificationsStore, api_time_sql
from service.db.pool import Pool
from service.db.store import PgStore
from service.db.watermark_repo import ReconcileStore
from service.http.serialize import payment_out
from service.payments.ingest_event import ingest_event
from service.payments.models import Change, NewPayment
from tests.support.payments import add_payment, payment_value
from tests.support.webhooks import card_error, intent, make_event


class Boom(Exception):
    pass


@pytest.fixture
async def endpoint(pool: Pool) -> int:
    [configured] = await NotificationsStore(pool).sync_endpoints(
        [f"http://127.0.0.1:9/outbox/{uuid.uuid4().hex}"]
    )
    return configured.id


async def _rows(pool: Pool, payment_id: uuid.UUID) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            """SELECT version, type, data, webhook_id, status FROM notifications
               WHERE payment_id = $1 ORDER BY version""",
            payment_id,
        )
    return rows


async def test_a_rolled_back_change_leaves_no_notification(
    pool: Pool, store: PgStore, endpoint: int
) -> None:
    payment = await add_payment(store)
    seen: list[int] = []
    with pytest.raises(Boom):
        await _succeed_then_fail(store, payment.id, seen)
    assert seen == [2]  # written in the transaction, before it rolled back
    assert [(r["version"], r["type"]) for r in await _rows(pool, payment.id)] == [
        (1, "payment.created")
    ]


async def _succeed_then_fail(store: PgStore, payment_id: uuid.UUID, seen: list[int]) -> None:
    async with store.transaction() as tx:
        current = await tx.get_payment(payment_id, for_update=True)
        assert current is not None
        await tx.apply_change(current, Change("test", "api", None, status="succeeded"))
        seen.append(
            await tx.conn.fetchval(
                "SELECT count(*) FROM notifications WHERE payment_id = $1", payment_id
            )
        )
        raise Boom


async def _create_then_fail(store: PgStore, payment_id: uuid.UUID) -> None:
    async with store.transaction() as tx:
        customer = await tx.get_or_add_customer(uuid.uuid4(), "cust-rollback", None, None)
        await tx.add_payment(_new(payment_id, customer.id))
        raise Boom


async def test_a_rolled_back_creation_leaves_no_notification(
    pool: Pool, store: PgStore, endpoint: int
) -> None:
    payment_id = uuid.uuid4()
    with pytest.raises(Boom):
        await _create_then_fail(store, payment_id)
    assert await _rows(pool, payment_id) == []


def _new(payment_id: uuid.UUID, customer_id: uuid.UUID | None) -> NewPayment:
    return NewPayment(
        id=payment_id,
        order_id=f"order-{payment_id}",
        customer_id=customer_id,
        flow="payment_intent",
        amount=1200,
        currency="eur",
        capture_method="automatic",
        description="two seats",
        metadata={"seats": "F7,F8"},
    )


async def test_creation_names_the_customer_by_external_id(
    pool: Pool, store: PgStore, endpoint: int
) -> None:
    payment_id = uuid.uuid4()
    async with store.transaction() as tx:
        customer = await tx.get_or_add_customer(uuid.uuid4(), "theatre-user-42", None, None)
        await tx.add_payment(_new(payment_id, customer.id))
    [row] = await _rows(pool, payment_id)
    assert (row["type"], row["status"]) == ("payment.created", "pending")
    assert row["webhook_id"].startswith("msg_")
    data = row["data"]
    assert (data["customer"], data["amount"], data["currency"]) == ("theatre-user-42", 1200, "eur")
    assert (data["metadata"], data["cause"]["kind"]) == ({"seats": "F7,F8"}, "created")


async def test_the_stores_own_creation_writes_its_notification_once(
    pool: Pool, store: PgStore, endpoint: int
) -> None:
    told: list[bool] = []
    store.on_outbox = lambda: told.append(True)
    first = _new(uuid.uuid4(), None)
    created = await store.add_payment(first)
    assert created is not None
    [row] = await _rows(pool, created.id)
    assert (row["version"], row["type"]) == (1, "payment.created")
    assert told == [True]  # the deliverer hears of it after the commit
    # The order's second live payment is refused: neither a row nor a notification.
    second = replace(first, id=uuid.uuid4())
    assert await store.add_payment(second) is None
    assert await _rows(pool, second.id) == []
    assert told == [True]


async def test_a_declined_webhook_notifies_the_attempt_with_our_advice(
    pool: Pool, store: PgStore, endpoint: int
) -> None:
    intent_id = f"pi_outbox_{uuid.uuid4().hex}"
    payment = await add_payment(store, intent_id=intent_id)
    decline = card_error("card_declined", "insufficient_funds")
    failed = intent(intent_id, "requires_payment_method", last_payment_error=decline)
    event = make_event("payment_intent.payment_failed", failed)
    await ingest_event(event, store=store)
    rows = await _rows(pool, payment.id)
    assert [r["type"] for r in rows] == ["payment.created", "payment.attempt_failed"]
    data = rows[1]["data"]
    assert data["cause"] == {"kind": event["type"], "type": "stripe_event", "id": event["id"]}
    attempt = data["attempt"]
    assert (attempt["outcome"], attempt["decline_code"]) == ("failed", "insufficient_funds")
    assert attempt["advice_next_step"] == "use_another_card"
    assert attempt["advice_message"]


async def test_no_endpoint_configured_writes_nothing(pool: Pool, store: PgStore) -> None:
    await NotificationsStore(pool).sync_endpoints([])
    payment = await add_payment(store)
    assert await _rows(pool, payment.id) == []


async def test_a_store_without_notifications_writes_nothing(pool: Pool, endpoint: int) -> None:
    payment = await add_payment(PgStore(pool, notify_merchants=False))
    assert await _rows(pool, payment.id) == []


async def test_reconciliation_changes_notify_too(pool: Pool, store: PgStore, endpoint: int) -> None:
    payment = await add_payment(store)
    async with ReconcileStore(pool).transaction() as tx:
        current = await tx.get_payment(payment.id, for_update=True)
        assert current is not None
        await tx.apply_change(current, Change("reconciled", "reconcile", None, status="canceled"))
    rows = await _rows(pool, payment.id)
    assert [(r["version"], r["type"]) for r in rows] == [
        (1, "payment.created"),
        (2, "payment.canceled"),
    ]
    assert rows[1]["data"]["cause"] == {"kind": "reconciled", "type": "reconcile", "id": None}


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 2, 10, 40, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 2, 10, 40, 1, 120000, tzinfo=UTC),
        datetime(2026, 12, 2, 10, 40, 1, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 10, 40, 1, 5, tzinfo=UTC),
    ],
)
async def test_the_database_writes_a_time_as_the_api_does(pool: Pool, at: datetime) -> None:
    """The outbox patches the change's ``updated_at`` in from the database's clock; a
    merchant must read it written as GET /api/payments/{id} writes it (the database's
    times come back in UTC)."""
    async with pool.acquire() as conn:
        written = await conn.fetchval(f"SELECT {api_time_sql('$1::timestamptz')}", at)
    assert (
        written == payment_out(payment_value(updated_at=at)).model_dump(mode="json")["updated_at"]
    )


async def test_a_notification_carries_the_updated_at_the_api_shows(
    pool: Pool, store: PgStore, endpoint: int
) -> None:
    payment = await add_payment(store)
    async with store.transaction() as tx:
        current = await tx.get_payment(payment.id, for_update=True)
        assert current is not None
        changed = await tx.apply_change(current, Change("test", "api", None, "succeeded"))
    rows = await _rows(pool, payment.id)
    assert rows[-1]["version"] == changed.version
    shown = payment_out(changed).model_dump(mode="json")
    assert rows[-1]["data"]["updated_at"] == shown["updated_at"]
    assert changed.updated_at > payment.updated_at
