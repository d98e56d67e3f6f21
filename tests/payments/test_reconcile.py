"""Reconciliation end to end: the real service and database, the Stripe emulator with no
webhook endpoint (so every webhook is "lost"), ``reconcile_once`` and its background loop."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.bootstrap import reconcile_cli, reconcile_command, reconcile_config
from service.config import Settings
from service.db.pool import Pool, create_pool
from service.db.store import PgStore
from service.db.watermark_repo import ReconcileStore
from service.keys import AUTH, DB_POOL, GATEWAY, STORE
from service.payments.declines import advise
from service.payments.models import StripeIds
from service.payments.reconcile import (
    WATERMARK_KEY,
    ReconcileReport,
    ReconcileStats,
    reconcile_once,
)
from service.reconciler import ReconcileConfig, Reconciler, reconcile_in_background
from tests.support.api import (
    API,
    SHOP,
    Client,
    confirm_intent,
    create_checkout,
    create_payment_intent,
)
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.payments import add_payment
from tests.support.postgres import TestPostgres
from tests.support.settings import make_settings
from tests.support.tcp_proxy import TcpProxy
from tests.support.webhooks import emulator_call


@pytest.fixture
def database_url(postgres: TestPostgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database per test: reconciliation looks at every payment there is."""
    url = postgres.create_database(request.node.name)
    yield url
    postgres.drop_database(url)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(processing_delay=0.05) as running:  # no webhook_url
        yield running


@pytest.fixture
def settings(database_url: str, emulator: RunningEmulator) -> Settings:
    return make_settings(
        database_url, stripe_api_base=emulator.url, allowed_redirect_origins=[SHOP]
    )


@pytest.fixture
async def api(aiohttp_client: AiohttpClient, settings: Settings) -> Client:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def store(api: Client) -> ReconcileStore:
    return ReconcileStore(api.app[DB_POOL])


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


# helpers -------------------------------------------------------------------------------


async def get(api: Client, path: str) -> Any:
    response = await api.get(path, headers=API)
    assert response.status == 200, await response.text()
    return await response.json()


def config(**reconcile: object) -> ReconcileConfig:
    """The loop's config as ``Settings`` make it (their defaults), with these overrides."""
    return reconcile_config(make_settings("postgresql://unused", **reconcile))


# A round that asks about payments unchanged for a minute, the rest as configured.
POLICY = config(reconcile_older_than_seconds=60).policy


async def reconcile(api: Client, store: ReconcileStore) -> ReconcileReport:
    """A round as if two minutes had passed: every unfinished payment is stale."""
    return await reconcile_once(
        store,
        api.app[GATEWAY],
        POLICY,
        now=datetime.now(UTC) + timedelta(seconds=120),
    )


async def watermark(db: asyncpg.Connection) -> dict[str, Any] | None:
    raw = await db.fetchval("SELECT value FROM service_state WHERE key = $1", WATERMARK_KEY)
    return json.loads(raw) if raw is not None else None


# stale payments --------------------------------------------------------------------------


async def test_lost_webhooks_payment_brought_to_succeeded(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    created = await create_payment_intent(api)
    pid, pi_id = created["payment_id"], created["payment_intent_id"]
    intent = await confirm_intent(emulator, pi_id, "pm_card_visa")
    assert intent["status"] == "succeeded"
    assert (await get(api, f"/api/payments/{pid}"))["status"] == "requires_payment_method"

    report = await reconcile(api, store)
    assert (report.checked, report.corrected, report.errors) == (1, 1, 0)
    assert report.corrected_to == {"succeeded": 1}

    payment = await get(api, f"/api/payments/{pid}")
    assert payment["status"] == "succeeded"
    timeline = (await get(api, f"/api/payments/{pid}/timeline"))["data"]
    corrections = [e for e in timeline if e["cause_type"] == "reconcile"]
    assert len(corrections) == 1
    assert corrections[0]["status"] == "succeeded"
    assert corrections[0]["kind"] == "reconciled"
    assert corrections[0]["cause_id"] == f"reconcile:{pi_id}:succeeded"
    assert corrections[0]["data"]["previous_status"] == "requires_payment_method"
    # The backfill then brought the lost events: the attempt is recorded, the status stays.
    attempts = (await get(api, f"/api/payments/{pid}/attempts"))["data"]
    assert [a["outcome"] for a in attempts] == ["succeeded"]
    assert timeline[-1]["status"] == "succeeded"

    again = await reconcile(api, store)
    assert (again.checked, again.corrected, again.events_backfilled, again.errors) == (0, 0, 0, 0)
    assert await get(api, f"/api/payments/{pid}") == payment
    assert (await get(api, f"/api/payments/{pid}/timeline"))["data"] == timeline


async def test_checkout_expired_unpaid_is_canceled(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    """No PaymentIntent exists (nobody tried to pay): the session itself is asked."""
    made = await create_checkout(api)
    pid, session_id = made["payment_id"], made["checkout_session_id"]
    assert (await get(api, f"/api/payments/{pid}"))["payment_intent_id"] is None
    status, _ = await emulator_call(
        emulator.url, emulator.secret_key, "POST", f"checkout/sessions/{session_id}/expire"
    )
    assert status == 200

    report = await reconcile(api, store)
    assert (report.checked, report.corrected, report.errors) == (1, 1, 0)
    assert report.corrected_to == {"canceled": 1}
    payment = await get(api, f"/api/payments/{pid}")
    assert (payment["status"], payment["cancellation_reason"]) == ("canceled", "expired")
    timeline = (await get(api, f"/api/payments/{pid}/timeline"))["data"]
    [correction] = [e for e in timeline if e["cause_type"] == "reconcile"]
    assert correction["cause_id"] == f"reconcile:{session_id}:expired"


async def test_checkout_paid_without_webhooks_learns_its_intent(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    made = await create_checkout(api)
    pid, session_id = made["payment_id"], made["checkout_session_id"]
    form = {"card": "4242424242424242", "exp": "12/34", "cvc": "123"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(made["url"], data=form, allow_redirects=False) as paid,
    ):
        assert paid.status == 303
    _, session = await emulator_call(
        emulator.url, emulator.secret_key, "GET", f"checkout/sessions/{session_id}"
    )
    assert (await get(api, f"/api/payments/{pid}"))["status"] == "requires_payment_method"

    report = await reconcile(api, store)
    assert (report.checked, report.corrected, report.errors) == (1, 1, 0)
    assert report.corrected_to == {"succeeded": 1}
    payment = await get(api, f"/api/payments/{pid}")
    assert (payment["status"], payment["amount_captured"]) == ("succeeded", 3000)
    assert payment["payment_intent_id"] == session["payment_intent"]


async def test_recent_and_final_payments_are_not_asked_about(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    created = await create_payment_intent(api)
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_visa")
    report = await reconcile_once(store, api.app[GATEWAY], POLICY, now=datetime.now(UTC))
    assert (report.checked, report.corrected) == (0, 0)
    # The backfill alone still applies the lost events, as webhooks would have.
    assert report.events_backfilled > 0
    payment = await get(api, f"/api/payments/{created['payment_id']}")
    assert payment["status"] == "succeeded"
    timeline = (await get(api, f"/api/payments/{created['payment_id']}/timeline"))["data"]
    assert {e["cause_type"] for e in timeline} == {"api", "stripe_event"}


async def test_correction_reaches_live_subscribers(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    created = await create_payment_intent(api)
    pid = created["payment_id"]
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_visa")
    token = api.app[AUTH].issue_status_token(uuid.UUID(pid))
    async with api.ws_connect("/ws") as ws:
        await ws.send_json(
            {"type": "subscribe", "payment_id": pid, "token": token, "since_version": 0}
        )
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        await reconcile(api, store)
        update = await ws.receive_json(timeout=5)
    assert update["type"] == "update"
    assert update["payment"]["status"] == "succeeded"
    assert update["timeline"][0]["cause_type"] == "reconcile"


async def test_a_stripe_error_on_one_payment_does_not_stop_the_others(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    unknown = await add_payment(api.app[STORE])
    async with api.app[STORE].transaction() as tx:
        await tx.attach_stripe_ids(
            unknown.id, StripeIds(stripe_payment_intent_id="pi_not_at_stripe")
        )
    created = await create_payment_intent(api)
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_visa")

    report = await reconcile(api, store)
    assert (report.checked, report.corrected, report.errors) == (2, 1, 1)
    assert (await get(api, f"/api/payments/{created['payment_id']}"))["status"] == "succeeded"
    assert (await get(api, f"/api/payments/{unknown.id}"))["status"] == "requires_payment_method"


async def test_each_round_follows_stripe(
    api: Client, store: ReconcileStore, emulator: RunningEmulator
) -> None:
    created = await create_payment_intent(api)
    pid, pi_id = created["payment_id"], created["payment_intent_id"]
    intent = await confirm_intent(emulator, pi_id, "pm_card_threeDSecureRequired")
    assert intent["status"] == "requires_action"
    first = await reconcile(api, store)
    assert first.corrected_to == {"requires_action": 1}
    assert (await get(api, f"/api/payments/{pid}"))["status"] == "requires_action"
    attempts = (await get(api, f"/api/payments/{pid}/attempts"))["data"]
    assert [a["advice"]["next_step"] for a in attempts] == ["authenticate"]

    status, canceled = await emulator_call(
        emulator.url, emulator.secret_key, "POST", f"payment_intents/{pi_id}/cancel", {}
    )
    assert status == 200, canceled
    second = await reconcile(api, store)
    assert second.corrected_to == {"canceled": 1}
    payment = await get(api, f"/api/payments/{pid}")
    assert payment["status"] == "canceled"
    timeline = (await get(api, f"/api/payments/{pid}/timeline"))["data"]
    assert [e["status"] for e in timeline if e["cause_type"] == "reconcile"] == [
        "requires_action",
        "canceled",
    ]


# events backfill -------------------------------------------------------------------------


async def test_backfill_records_failed_attempts_with_advice(
    api: Client, store: ReconcileStore, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    created = await create_payment_intent(api)
    pid, pi_id = created["payment_id"], created["payment_intent_id"]
    declined = await confirm_intent(emulator, pi_id, "pm_card_chargeDeclinedInsufficientFunds")
    assert declined["error"]["decline_code"] == "insufficient_funds"
    stripe_events = emulator.handle.events()

    report = await reconcile(api, store)
    assert report.errors == 0
    assert (report.checked, report.corrected) == (1, 0)  # Stripe agrees on the status
    assert report.events_seen == len(stripe_events)
    assert report.events_backfilled == len(stripe_events)
    attempts = (await get(api, f"/api/payments/{pid}/attempts"))["data"]
    assert len(attempts) == 1
    failed = attempts[0]
    assert failed["outcome"] == "failed"
    assert failed["error"]["decline_code"] == "insufficient_funds"
    error = failed["error"]
    advice = advise(error["code"], error["decline_code"], error["advice_code"])
    assert failed["advice"] == {
        "next_step": advice.next_step,
        "retryable": advice.retryable,
        "message": advice.customer_message,
    }
    assert advice.next_step != "none"
    processed = await db.fetchval(
        "SELECT count(*) FROM stripe_events WHERE processed_at IS NOT NULL"
    )
    assert processed == len(stripe_events)
    mark = await watermark(db)
    assert mark == {"id": stripe_events[-1]["id"], "created": stripe_events[-1]["created"]}
    assert report.watermark == stripe_events[-1]["id"]

    version = (await get(api, f"/api/payments/{pid}"))["version"]
    again = await reconcile(api, store)
    assert (again.events_seen, again.events_backfilled, again.errors) == (0, 0, 0)
    assert (await get(api, f"/api/payments/{pid}"))["version"] == version

    # New events: only they are read, and the watermark moves past them.
    second = await create_payment_intent(api)
    await confirm_intent(emulator, second["payment_intent_id"], "pm_card_visa")
    newer = emulator.handle.events()[len(stripe_events) :]
    third = await reconcile(api, store)
    assert third.events_seen == len(newer)
    assert await watermark(db) == {"id": newer[-1]["id"], "created": newer[-1]["created"]}


async def test_replaying_from_scratch_changes_nothing(
    api: Client, store: ReconcileStore, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    created = await create_payment_intent(api)
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_chargeDeclined")
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_visa")
    first = await reconcile(api, store)
    assert first.events_backfilled == len(emulator.handle.events())
    before = await db.fetch("SELECT * FROM payment_events ORDER BY payment_id, version")
    attempts = await db.fetchval("SELECT count(*) FROM payment_attempts")
    assert attempts == 2

    await db.execute("DELETE FROM service_state")  # the watermark is lost
    replay = await reconcile(api, store)
    assert replay.events_seen == len(emulator.handle.events())
    assert (replay.events_backfilled, replay.corrected, replay.errors) == (0, 0, 0)
    assert await db.fetch("SELECT * FROM payment_events ORDER BY payment_id, version") == before
    assert await db.fetchval("SELECT count(*) FROM payment_attempts") == attempts


async def test_watermark_stops_before_a_failing_event(
    api: Client, store: ReconcileStore, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    created = await create_payment_intent(api)
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_chargeDeclined")
    events = emulator.handle.events()
    failed_event = next(e for e in events if e["type"] == "payment_intent.payment_failed")
    position = events.index(failed_event)
    # A real database failure for that one event (as a broken deploy might cause).
    await db.execute(
        f"""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.stripe_event_id = '{failed_event["id"]}' THEN
                    RAISE EXCEPTION 'refused for the test';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON payment_attempts
                FOR EACH ROW EXECUTE FUNCTION refuse();"""
    )
    report = await reconcile_once(store, api.app[GATEWAY], POLICY, now=datetime.now(UTC))
    assert report.errors == 1
    assert report.events_backfilled == position
    if position:
        assert (await watermark(db) or {}).get("id") == events[position - 1]["id"]
    last_error = await db.fetchval(
        "SELECT last_error FROM stripe_events WHERE id = $1", failed_event["id"]
    )
    assert "refused for the test" in last_error

    again = await reconcile_once(store, api.app[GATEWAY], POLICY, now=datetime.now(UTC))
    # Still refused: the same event is tried again (never skipped), nothing after it.
    assert (again.events_seen, again.events_backfilled, again.errors) == (1, 0, 1)

    await db.execute("DROP TRIGGER refuse ON payment_attempts")
    fixed = await reconcile_once(store, api.app[GATEWAY], POLICY, now=datetime.now(UTC))
    assert fixed.errors == 0
    assert fixed.events_seen == len(events) - position
    assert await watermark(db) == {"id": events[-1]["id"], "created": events[-1]["created"]}
    attempts = (await get(api, f"/api/payments/{created['payment_id']}/attempts"))["data"]
    assert [a["outcome"] for a in attempts] == ["failed"]


async def test_watermark_event_gone_falls_back_to_its_time(
    api: Client, store: ReconcileStore, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    created = await create_payment_intent(api)
    await confirm_intent(emulator, created["payment_intent_id"], "pm_card_visa")
    newest = emulator.handle.events()[-1]
    await db.execute(
        "INSERT INTO service_state (key, value) VALUES ($1, $2)",
        WATERMARK_KEY,
        json.dumps({"id": "evt_expired_long_ago", "created": newest["created"] - 5}),
    )
    report = await reconcile_once(store, api.app[GATEWAY], POLICY, now=datetime.now(UTC))
    assert report.errors == 0
    assert report.events_backfilled == len(emulator.handle.events())
    assert (await watermark(db) or {})["id"] == newest["id"]


# the background loop and the command ------------------------------------------------------


async def test_background_loop_survives_a_database_outage(
    emulator: RunningEmulator, database_url: str, postgres: TestPostgres
) -> None:
    host, port = _host_port(database_url)
    proxy = TcpProxy(host, port)
    await proxy.start()
    proxied = database_url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
    settings = make_settings(proxied, stripe_api_base=emulator.url)
    app = create_app(settings)
    stats = ReconcileStats()
    looping = config(reconcile_interval_seconds=0.05, reconcile_older_than_seconds=0)
    app.cleanup_ctx.append(reconcile_in_background(looping, stats))
    try:
        async with _served(app) as client:
            created = await create_payment_intent(client)
            await confirm_intent(emulator, created["payment_intent_id"], "pm_card_visa")
            await _until(lambda: stats.rounds >= 2)
            proxy.cut()
            await _until(lambda: stats.failed_rounds >= 2)
            proxy.restore()
            rounds = stats.rounds
            await _until(lambda: stats.rounds >= rounds + 2)
            payment = await get(client, f"/api/payments/{created['payment_id']}")
    finally:
        await proxy.close()
    assert payment["status"] == "succeeded"
    assert stats.errors == 0
    assert stats.last_success is not None


async def test_disabled_loop_does_nothing(
    settings: Settings, aiohttp_client: AiohttpClient
) -> None:
    app = create_app(settings)
    stats = ReconcileStats()
    app.cleanup_ctx.append(
        reconcile_in_background(
            config(reconcile_enabled=False, reconcile_interval_seconds=0.01), stats
        )
    )
    await aiohttp_client(app)
    await asyncio.sleep(0.1)
    assert stats.rounds == 0


async def test_one_round_at_a_time_across_processes(api: Client, store: ReconcileStore) -> None:
    stats = ReconcileStats()
    worker = Reconciler(store, api.app[GATEWAY], config(), stats)
    async with store.exclusive() as mine:
        assert mine
        assert await worker.round() is None
    assert stats.skipped_rounds == 1
    assert await worker.round() is not None
    assert stats.rounds == 1


async def test_command_runs_one_round(
    settings: Settings, emulator: RunningEmulator, database_url: str
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        payment = await add_payment_with_intent(pool, emulator)
    finally:
        await pool.close()
    now = settings.model_copy(update={"reconcile_older_than_seconds": 0})
    report = await reconcile_command(now)
    assert (report.checked, report.corrected, report.errors) == (1, 1, 0)
    assert report.corrected_to == {"succeeded": 1}
    conn = await asyncpg.connect(database_url)
    try:
        status = await conn.fetchval("SELECT status FROM payments WHERE id = $1", payment)
    finally:
        await conn.close()
    assert status == "succeeded"


async def test_command_prints_the_report(
    settings: Settings, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    now = settings.model_copy(update={"reconcile_older_than_seconds": 0})
    # In a thread: the command runs its own event loop; the emulator stays on this one.
    assert await asyncio.to_thread(reconcile_cli, now) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["errors"] == 0
    assert printed["checked"] == 0
    assert printed["watermark"] is None  # no events at Stripe yet

    broken = make_settings(settings.database_url or "", stripe_api_base="http://127.0.0.1:9")
    fast = broken.model_copy(
        update={"stripe_max_network_retries": 0, "reconcile_older_than_seconds": 0}
    )
    assert await asyncio.to_thread(reconcile_cli, fast) == 1
    assert json.loads(capsys.readouterr().out)["errors"] == 1


# support -----------------------------------------------------------------------------------


async def add_payment_with_intent(pool: Pool, emulator: RunningEmulator) -> uuid.UUID:
    """A payment whose PaymentIntent succeeded at Stripe without a webhook."""
    store = PgStore(pool)
    payment = await add_payment(store)
    status, intent = await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        "payment_intents",
        {"amount": "2500", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"},
    )
    assert status == 200, intent
    async with store.transaction() as tx:
        await tx.attach_stripe_ids(payment.id, StripeIds(stripe_payment_intent_id=intent["id"]))
    return payment.id


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


class _served:
    """The app on a TestServer with a client, started and stopped around the block."""

    def __init__(self, app: web.Application) -> None:
        self.client: Client = TestClient(TestServer(app))

    async def __aenter__(self) -> Client:
        await self.client.start_server()
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()


async def _until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")
