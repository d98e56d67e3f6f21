"""Failures while handling a webhook (handler error, database gone, connection cut inside
the transaction): a 500, nothing half-written, and the event applies on redelivery."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import WEBHOOK_STATS
from tests.support.api import Client, confirm_intent, create_payment_intent
from tests.support.deliveries import (
    assert_consistent,
    events_of,
    inbox_count,
    paid_by_card,
    read,
    webhook_settings,
)
from tests.support.emulator import RunningEmulator
from tests.support.tcp_proxy import proxy_database
from tests.support.webhooks import post_event


async def test_handler_error_leaves_the_event_for_redelivery(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made, succeeded = await paid_by_card(api, emulator)
    await db.execute(
        """ALTER TABLE payment_events ADD CONSTRAINT test_reject_succeeded
           CHECK (kind <> 'payment_intent.succeeded') NOT VALID"""
    )
    try:
        status, body = await post_event(api, succeeded)
        assert status == 500, body
        assert body["error"]["code"] == "webhook_failed"
        row = await db.fetchrow("SELECT * FROM stripe_events WHERE id = $1", succeeded["id"])
        assert row is not None
        assert (row["failures"], row["processed_at"]) == (1, None)
        assert "test_reject_succeeded" in row["last_error"]
        payment = await read(api, made["payment_id"])
        assert (payment["status"], payment["version"]) == ("requires_payment_method", 1)
        assert await read(api, made["payment_id"], "/attempts") == []
        assert (await post_event(api, succeeded))[0] == 500
        failures = await db.fetchval(
            "SELECT failures FROM stripe_events WHERE id = $1", succeeded["id"]
        )
        assert failures == 2
    finally:
        await db.execute("ALTER TABLE payment_events DROP CONSTRAINT test_reject_succeeded")
    assert api.app[WEBHOOK_STATS].outcomes["failed"] == 2

    status, body = await post_event(api, succeeded)
    assert (status, body["outcome"]) == (200, "applied")
    assert (await post_event(api, succeeded))[1]["outcome"] == "duplicate"
    payment = await read(api, made["payment_id"])
    assert (payment["status"], payment["version"]) == ("succeeded", 2)
    assert len(await read(api, made["payment_id"], "/attempts")) == 1
    row = await db.fetchrow("SELECT * FROM stripe_events WHERE id = $1", succeeded["id"])
    assert row["processed_at"] is not None
    assert row["last_error"] is None
    await assert_consistent(db, made["payment_id"])


async def test_database_gone_mid_request(
    aiohttp_client: AiohttpClient,
    database_url: str,
    emulator: RunningEmulator,
    db: asyncpg.Connection,
) -> None:
    proxy, proxied = await proxy_database(database_url)
    try:
        client = await aiohttp_client(
            create_app(webhook_settings(proxied, emulator, listener_probe_seconds=60))
        )
        made = await create_payment_intent(client)
        await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
        events = events_of(emulator, made["payment_intent_id"])
        before = await inbox_count(db)

        proxy.cut()
        for event in events:
            status, body = await post_event(client, event)
            assert status == 500, body
        assert await inbox_count(db) == before
        assert (
            await db.fetchval(
                "SELECT version FROM payments WHERE id = $1", uuid.UUID(made["payment_id"])
            )
        ) == 1

        proxy.restore()
        outcomes = []
        for event in events:  # Stripe retries; a pooled connection may need one more go
            for _ in range(3):
                status, body = await post_event(client, event)
                if status == 200:
                    outcomes.append(body["outcome"])
                    break
            else:
                raise AssertionError(f"never applied: {event['type']}")
        assert "applied" in outcomes
        payment = await read(client, made["payment_id"])
        assert payment["status"] == "succeeded"
        assert len(await read(client, made["payment_id"], "/attempts")) == 1
        assert (await post_event(client, events[-1]))[1]["outcome"] == "duplicate"
        await assert_consistent(db, made["payment_id"])
    finally:
        await proxy.close()


async def test_database_cut_inside_the_transaction(
    aiohttp_client: AiohttpClient,
    database_url: str,
    emulator: RunningEmulator,
    db: asyncpg.Connection,
) -> None:
    """The connection dies while the webhook transaction is open (the timeline insert is
    slowed down by a trigger): 500, and PostgreSQL keeps nothing of it."""
    proxy, proxied = await proxy_database(database_url)
    try:
        client = await aiohttp_client(create_app(webhook_settings(proxied, emulator)))
        made, succeeded = await paid_by_card(client, emulator)
        await db.execute(
            """CREATE FUNCTION test_slow_timeline() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep(0.6); RETURN NEW; END $$;
               CREATE TRIGGER test_slow_timeline BEFORE INSERT ON payment_events
               FOR EACH ROW EXECUTE FUNCTION test_slow_timeline();"""
        )
        try:
            posting = asyncio.create_task(post_event(client, succeeded))
            await asyncio.sleep(0.3)
            proxy.cut()
            status, body = await posting
            assert status == 500, body
        finally:
            await db.execute(
                """DROP TRIGGER test_slow_timeline ON payment_events;
                   DROP FUNCTION test_slow_timeline();"""
            )
        # Once the server has noticed the lost client, the transaction is gone.
        uid = uuid.UUID(made["payment_id"])
        for _ in range(50):
            if not await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
                " OR query LIKE '%pg_sleep(0.6)%' AND pid <> pg_backend_pid()"
            ):
                break
            await asyncio.sleep(0.1)
        assert await db.fetchval("SELECT version FROM payments WHERE id = $1", uid) == 1
        assert (
            await db.fetchval("SELECT count(*) FROM payment_attempts WHERE payment_id = $1", uid)
            == 0
        )
        row = await db.fetchrow(
            "SELECT processed_at FROM stripe_events WHERE id = $1", succeeded["id"]
        )
        assert row is None or row["processed_at"] is None

        proxy.restore()
        for _ in range(3):
            status, body = await post_event(client, succeeded)
            if status == 200:
                break
        assert (status, body["outcome"]) == (200, "applied")
        payment = await read(client, made["payment_id"])
        assert (payment["status"], payment["version"]) == ("succeeded", 2)
        await assert_consistent(db, made["payment_id"])
    finally:
        await proxy.close()
