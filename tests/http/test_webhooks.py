"""POST /webhooks/stripe end to end: real service, real PostgreSQL, the Stripe emulator."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.http.request_id import JsonAccessLogger
from service.keys import WEBHOOK_STATS
from tests.conftest import make_settings
from tests.support.api import API, Client, confirm_intent, create_payment_intent
from tests.support.emulator import RunningEmulator, running_app, running_emulator
from tests.support.tcp_proxy import TcpProxy
from tests.support.webhooks import (
    WEBHOOK_SECRET,
    emulator_call,
    event_body,
    intent,
    make_event,
    post_event,
    signed_headers,
)

SHOP = "https://shop.example"


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(processing_delay=0.05) as running:
        yield running


def _settings(database_url: str, emulator: RunningEmulator, **overrides: object) -> Any:
    values: dict[str, object] = {
        "stripe_api_base": emulator.url,
        "stripe_webhook_secrets": [WEBHOOK_SECRET],
        "allowed_redirect_origins": [SHOP],
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> Client:
    return await aiohttp_client(create_app(_settings(database_url, emulator)))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


# helpers -------------------------------------------------------------------------------


async def create_checkout(api: Client) -> dict[str, Any]:
    body = {
        "order_id": f"order-{uuid.uuid4()}",
        "currency": "usd",
        "line_items": [{"name": "Seat", "unit_amount": 1500, "quantity": 2}],
        "success_url": f"{SHOP}/ok",
        "cancel_url": f"{SHOP}/cancel",
    }
    response = await api.post("/api/checkout-sessions", json=body, headers=API)
    data: dict[str, Any] = await response.json()
    assert response.status == 201, data
    return data


def events_of(emulator: RunningEmulator, pi_id: str) -> list[dict[str, Any]]:
    """The emulator's events about one PaymentIntent (or its charges, refunds, session)."""
    found = []
    for event in emulator.handle.events():
        obj = event["data"]["object"]
        if pi_id in (obj.get("id"), obj.get("payment_intent")):
            found.append(copy.deepcopy(event))
    return found


async def paid_by_card(
    api: Client, emulator: RunningEmulator
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A payment created and paid with a good card: the API's answer, and the emulator's
    ``payment_intent.succeeded`` event for it (not delivered yet)."""
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
    [succeeded] = [
        e
        for e in events_of(emulator, made["payment_intent_id"])
        if e["type"] == "payment_intent.succeeded"
    ]
    return made, succeeded


async def deliver(api: Client, events: list[dict[str, Any]]) -> list[str]:
    outcomes = []
    for event in events:
        status, body = await post_event(api, event)
        assert status == 200, (event["type"], body)
        outcomes.append(body["outcome"])
    return outcomes


async def read(api: Client, payment_id: str, suffix: str = "") -> Any:
    response = await api.get(f"/api/payments/{payment_id}{suffix}", headers=API)
    assert response.status == 200
    data = await response.json()
    return data["data"] if suffix else data


async def inbox_count(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM stripe_events"))


async def assert_consistent(db: asyncpg.Connection, payment_id: str) -> None:
    """No half-written change: one timeline row per version, 1..version."""
    version = await db.fetchval("SELECT version FROM payments WHERE id = $1", uuid.UUID(payment_id))
    versions = await db.fetch(
        "SELECT version FROM payment_events WHERE payment_id = $1 ORDER BY version",
        uuid.UUID(payment_id),
    )
    assert [r["version"] for r in versions] == list(range(1, version + 1))


# real events from the emulator ---------------------------------------------------------


async def test_decline_then_success_from_emulator_events(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    pi_id = made["payment_intent_id"]
    declined = await confirm_intent(emulator, pi_id, "pm_card_chargeDeclinedInsufficientFunds")
    assert declined["error"]["decline_code"] == "insufficient_funds"
    assert (await confirm_intent(emulator, pi_id, "pm_card_visa"))["status"] == "succeeded"
    events = events_of(emulator, pi_id)
    types = [e["type"] for e in events]
    assert "payment_intent.payment_failed" in types
    assert "payment_intent.succeeded" in types

    outcomes = await deliver(api, events)
    assert "applied" in outcomes

    payment = await read(api, made["payment_id"])
    assert payment["status"] == "succeeded"
    assert payment["amount_captured"] == 2500
    attempts = await read(api, made["payment_id"], "/attempts")
    assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
    failed, succeeded = attempts
    assert failed["error"]["code"] == "card_declined"
    assert failed["error"]["decline_code"] == "insufficient_funds"
    # The issuer's advice_code (try_again_later) refines the decline's own advice.
    assert failed["error"]["advice_code"] == "try_again_later"
    assert failed["advice"]["next_step"] == "retry_later"
    assert failed["advice"]["retryable"] is True
    assert "try again" in failed["advice"]["message"]
    assert failed["charge_id"].startswith("ch_")
    assert (failed["card_brand"], failed["card_last4"]) == ("visa", "9995")
    assert succeeded["error"] is None
    assert succeeded["payment_method_id"] is not None
    assert {a["stripe_event_id"] for a in attempts} <= {e["id"] for e in events}

    timeline = await read(api, made["payment_id"], "/timeline")
    kinds = [e["kind"] for e in timeline]
    assert kinds[0] == "created"
    assert "payment_intent.payment_failed" in kinds
    assert kinds[-1] == "payment_intent.succeeded"
    assert timeline[-1]["status"] == "succeeded"
    assert [e["version"] for e in timeline] == list(range(1, payment["version"] + 1))
    assert all(e["cause_type"] == "stripe_event" for e in timeline[1:])
    await assert_consistent(db, made["payment_id"])
    processed = await db.fetchval(
        """SELECT count(*) FROM stripe_events
           WHERE id = ANY($1::text[]) AND processed_at IS NOT NULL""",
        [e["id"] for e in events],
    )
    assert processed == len(events)


@pytest.mark.parametrize(
    ("pm", "decline_code"),
    [
        ("pm_card_chargeDeclinedStolenCard", "stolen_card"),
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
        ("pm_card_radarBlock", "fraudulent"),
    ],
)
async def test_fraud_declines_are_shown_as_a_generic_decline(
    api: Client, emulator: RunningEmulator, pm: str, decline_code: str
) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], pm)
    await deliver(api, events_of(emulator, made["payment_intent_id"]))
    payment = await read(api, made["payment_id"])
    assert payment["status"] == "requires_payment_method"
    [attempt] = await read(api, made["payment_id"], "/attempts")
    assert attempt["outcome"] == "failed"
    assert attempt["advice"] == {
        "next_step": "use_another_card",
        "retryable": False,
        "message": "Your card was declined.",
    }
    # The timeline is what the browser replays (status token, WebSocket): nothing in it
    # tells a fraud decline from a plain one.
    token = {"X-Status-Token": made["status_token"]}
    response = await api.get(f"/api/payments/{made['payment_id']}/timeline", headers=token)
    assert response.status == 200
    text = await response.text()
    assert decline_code not in text
    assert '"decline_code": "generic_decline"' in text.replace('":"', '": "')
    # So is the attempt history read with the status token; the API key sees the truth.
    response = await api.get(f"/api/payments/{made['payment_id']}/attempts", headers=token)
    [seen] = (await response.json())["data"]
    assert seen["error"]["decline_code"] == "generic_decline"
    assert seen["error"]["network_decline_code"] is None
    assert decline_code not in await response.text()
    assert attempt["error"]["decline_code"] == decline_code


async def _three_ds(emulator: RunningEmulator, made: dict[str, Any], outcome: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.url}/3ds/{made['payment_intent_id']}/{outcome}",
            data={"client_secret": made["client_secret"]},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status < 400


async def test_three_d_secure_failed_then_completed(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    pi_id = made["payment_intent_id"]
    assert (await confirm_intent(emulator, pi_id, "pm_card_authenticationRequired"))[
        "status"
    ] == "requires_action"
    await _three_ds(emulator, made, "fail")
    assert (await confirm_intent(emulator, pi_id, "pm_card_authenticationRequired"))[
        "status"
    ] == "requires_action"
    await _three_ds(emulator, made, "complete")
    events = events_of(emulator, pi_id)
    # Stripe's order, then the reverse: the same payment either way.
    await deliver(api, events[::-1])
    payment = await read(api, made["payment_id"])
    assert payment["status"] == "succeeded"
    attempts = await read(api, made["payment_id"], "/attempts")
    assert sorted(a["outcome"] for a in attempts) == [
        "failed",
        "requires_action",
        "requires_action",
        "succeeded",
    ]
    [failed] = [a for a in attempts if a["outcome"] == "failed"]
    assert failed["error"]["code"] == "payment_intent_authentication_failure"
    assert failed["advice"]["next_step"] == "authenticate"
    for action in (a for a in attempts if a["outcome"] == "requires_action"):
        assert action["advice"]["next_step"] == "authenticate"
    await assert_consistent(db, made["payment_id"])


async def test_incorrect_cvc_asks_to_fix_details(api: Client, emulator: RunningEmulator) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclinedIncorrectCvc")
    await deliver(api, events_of(emulator, made["payment_intent_id"]))
    [attempt] = await read(api, made["payment_id"], "/attempts")
    assert attempt["error"]["code"] == "incorrect_cvc"
    assert attempt["advice"]["next_step"] == "fix_card_details"
    assert attempt["advice"]["retryable"] is True


# signatures ----------------------------------------------------------------------------


def _sample_event() -> dict[str, Any]:
    return make_event(
        "payment_intent.created", intent(f"pi_{uuid.uuid4().hex}", "requires_payment_method")
    )


async def test_bad_missing_stale_and_future_signatures_are_refused(
    api: Client, db: asyncpg.Connection
) -> None:
    before = await inbox_count(db)
    body = event_body(_sample_event())
    now = int(time.time())
    good = signed_headers(body)["Stripe-Signature"]
    cases: dict[str, dict[str, str]] = {
        "missing": {"Content-Type": "application/json"},
        "empty": {"Stripe-Signature": ""},
        "garbage": {"Stripe-Signature": "nonsense"},
        "wrong secret": signed_headers(body, "whsec_someone_else"),
        "other body": signed_headers(body + " "),
        "tampered mac": {"Stripe-Signature": good[:-4] + "0000"},
        "no v1": {"Stripe-Signature": good.split(",")[0] + ",v0=" + good.split("v1=")[1]},
        # Outside the 300 s tolerance by a margin a slow, loaded test run cannot eat up.
        "stale": signed_headers(body, timestamp=now - 330),
        "future": signed_headers(body, timestamp=now + 330),
        "far future": signed_headers(body, timestamp=now + 86400),
    }
    for name, headers in cases.items():
        response = await api.post("/webhooks/stripe", data=body.encode(), headers=headers)
        assert response.status == 400, name
        assert (await response.json())["error"]["code"] == "signature_invalid", name
    assert await inbox_count(db) == before
    assert api.app[WEBHOOK_STATS].outcomes["bad_signature"] == len(cases)
    # Within the tolerance on either side is accepted.
    for offset in (-290, 30):
        status, _ = await post_event(api, _sample_event(), timestamp=int(time.time()) + offset)
        assert status == 200


async def test_rotated_secrets(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    settings = _settings(
        database_url, emulator, stripe_webhook_secrets="whsec_old_secret,whsec_new_secret"
    )
    client = await aiohttp_client(create_app(settings))
    assert (await post_event(client, _sample_event(), "whsec_old_secret"))[0] == 200
    assert (await post_event(client, _sample_event(), "whsec_new_secret"))[0] == 200
    assert (await post_event(client, _sample_event(), "whsec_third_secret"))[0] == 400


async def test_body_size_limit(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    client = await aiohttp_client(
        create_app(_settings(database_url, emulator, max_webhook_bytes=200_000))
    )
    event = _sample_event()
    event["data"]["object"]["description"] = "x" * 250_000
    body = event_body(event)
    response = await client.post(
        "/webhooks/stripe", data=body.encode(), headers=signed_headers(body)
    )
    assert response.status == 413
    assert client.app[WEBHOOK_STATS].outcomes["too_large"] == 1

    # Without a Content-Length (chunked) the limit holds too.
    async def chunks() -> AsyncIterator[bytes]:
        data = body.encode()
        for i in range(0, len(data), 16384):
            yield data[i : i + 16384]

    response = await client.post("/webhooks/stripe", data=chunks(), headers=signed_headers(body))
    assert response.status == 413

    # A big event under the limit is read whole (more than one network read).
    event["data"]["object"]["description"] = "y" * 150_000
    status, answer = await post_event(client, event)
    assert (status, answer["outcome"]) == (200, "not_ours")

    async def small_chunks() -> AsyncIterator[bytes]:
        data = event_body(event).encode()
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]
            await asyncio.sleep(0)

    response = await client.post(
        "/webhooks/stripe", data=small_chunks(), headers=signed_headers(event_body(event))
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["outcome"] == "duplicate"


async def test_not_json_or_not_an_event_is_400(api: Client) -> None:
    for body in ("not json", "[]", json.dumps({"id": "evt_1"})):
        response = await api.post(
            "/webhooks/stripe", data=body.encode(), headers=signed_headers(body)
        )
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_event"


# duplicates ----------------------------------------------------------------------------


async def test_same_event_twice_is_applied_once(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclined")
    [failed] = [
        e
        for e in events_of(emulator, made["payment_intent_id"])
        if e["type"].endswith("payment_failed")
    ]
    assert (await post_event(api, failed))[1]["outcome"] == "applied"
    assert (await post_event(api, failed))[1]["outcome"] == "duplicate"
    assert len(await read(api, made["payment_id"], "/attempts")) == 1
    timeline = await read(api, made["payment_id"], "/timeline")
    assert [e["cause_id"] for e in timeline].count(failed["id"]) == 1
    stats = api.app[WEBHOOK_STATS]
    assert stats.outcomes["applied"] >= 1
    assert stats.outcomes["duplicate"] >= 1
    assert stats.received_by_type["payment_intent.payment_failed"] == 2
    await assert_consistent(db, made["payment_id"])


async def test_same_event_concurrently_is_applied_once(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made, succeeded = await paid_by_card(api, emulator)
    results = await asyncio.gather(*(post_event(api, succeeded) for _ in range(8)))
    assert [status for status, _ in results] == [200] * 8
    outcomes = sorted(body["outcome"] for _, body in results)
    assert outcomes == ["applied"] + ["duplicate"] * 7
    payment = await read(api, made["payment_id"])
    assert (payment["status"], payment["version"]) == ("succeeded", 2)
    assert len(await read(api, made["payment_id"], "/attempts")) == 1
    await assert_consistent(db, made["payment_id"])


async def test_all_events_of_a_payment_at_once(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclined")
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
    events = events_of(emulator, made["payment_intent_id"])
    results = await asyncio.gather(*(post_event(api, e) for e in events + events))
    assert {status for status, _ in results} == {200}
    payment = await read(api, made["payment_id"])
    assert payment["status"] == "succeeded"
    attempts = await read(api, made["payment_id"], "/attempts")
    assert sorted(a["outcome"] for a in attempts) == ["failed", "succeeded"]
    await assert_consistent(db, made["payment_id"])


# failures ------------------------------------------------------------------------------


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
    parts = urlsplit(database_url)
    assert parts.hostname is not None
    assert parts.port is not None
    proxy = TcpProxy(parts.hostname, parts.port)
    port = await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
    try:
        client = await aiohttp_client(
            create_app(_settings(proxied, emulator, listener_probe_seconds=60))
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
    parts = urlsplit(database_url)
    assert parts.hostname is not None
    assert parts.port is not None
    proxy = TcpProxy(parts.hostname, parts.port)
    port = await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
    try:
        client = await aiohttp_client(create_app(_settings(proxied, emulator)))
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


# what is not ours ----------------------------------------------------------------------


async def test_foreign_and_unknown_events(api: Client, db: asyncpg.Connection) -> None:
    foreign = make_event("payment_intent.succeeded", intent(f"pi_{uuid.uuid4().hex}", "succeeded"))
    status, body = await post_event(api, foreign)
    assert (status, body["outcome"]) == (200, "not_ours")
    # Someone's metadata pointing at a payment id we do not have.
    spoof = make_event(
        "payment_intent.succeeded",
        intent(
            f"pi_{uuid.uuid4().hex}",
            "succeeded",
            metadata={"paylive_payment_id": str(uuid.uuid4())},
        ),
    )
    assert (await post_event(api, spoof))[1]["outcome"] == "not_ours"
    unknown = make_event("customer.created", {"id": "cus_123", "object": "customer"})
    status, body = await post_event(api, unknown)
    assert (status, body["outcome"]) == (200, "ignored")
    # Some objects have no id at all; the event is still Stripe's and answered 200.
    balance = make_event("balance.available", {"object": "balance", "available": [], "pending": []})
    status, body = await post_event(api, balance)
    assert (status, body["outcome"]) == (200, "ignored")
    rows = await db.fetch(
        "SELECT id, type, processed_at FROM stripe_events WHERE id = ANY($1::text[])",
        [foreign["id"], spoof["id"], unknown["id"], balance["id"]],
    )
    assert len(rows) == 4
    assert all(r["processed_at"] is not None for r in rows)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM payment_events WHERE cause_id = ANY($1::text[])",
            [foreign["id"], spoof["id"], unknown["id"]],
        )
        == 0
    )
    assert (await post_event(api, foreign))[1]["outcome"] == "duplicate"


async def test_metadata_copied_to_another_intent_is_not_applied(
    api: Client, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    other = intent(
        f"pi_{uuid.uuid4().hex}", "succeeded", metadata={"paylive_payment_id": made["payment_id"]}
    )
    assert (await post_event(api, make_event("payment_intent.succeeded", other)))[1][
        "outcome"
    ] == "not_ours"
    payment = await read(api, made["payment_id"])
    assert (payment["status"], payment["version"]) == ("requires_payment_method", 1)


async def test_metadata_copied_to_another_checkout_session_is_not_applied(
    api: Client,
) -> None:
    data = await create_checkout(api)
    other = {
        "id": f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "amount_total": 3000,
        "metadata": {"paylive_payment_id": data["payment_id"]},
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "paid",
        "status": "complete",
    }
    event = make_event("checkout.session.completed", other)
    assert (await post_event(api, event))[1]["outcome"] == "not_ours"
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["version"]) == ("requires_payment_method", 1)


# checkout ------------------------------------------------------------------------------


async def _pay_checkout(
    emulator: RunningEmulator, url: str, number: str, *, declined: bool = False
) -> None:
    """Pay on the hosted page; a decline shows the page again with a 402."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data={"number": number, "exp": "12/40", "cvc": "123", "email": "a@b.example"},
            allow_redirects=False,
        ) as response,
    ):
        if declined:
            assert response.status == 402
        else:
            assert response.status < 400


async def _checkout_events(emulator: RunningEmulator, data: dict[str, Any]) -> list[dict[str, Any]]:
    await emulator.handle.wait_idle()
    _, session = await emulator_call(
        emulator.url, emulator.secret_key, "GET", f"checkout/sessions/{data['checkout_session_id']}"
    )
    ids = {session["id"], session["payment_intent"]} - {None}  # no PaymentIntent if unpaid
    return [
        copy.deepcopy(e)
        for e in emulator.handle.events()
        if ids & {e["data"]["object"].get("id"), e["data"]["object"].get("payment_intent")}
    ]


async def test_checkout_paid(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    data = await create_checkout(api)
    await _pay_checkout(emulator, data["url"], "4242424242424242")
    events = await _checkout_events(emulator, data)
    assert "checkout.session.completed" in [e["type"] for e in events]
    completed = [e for e in events if e["type"] == "checkout.session.completed"]
    # The session alone is enough to know it is paid.
    assert (await deliver(api, completed)) == ["applied"]
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["amount_captured"]) == ("succeeded", 3000)
    await deliver(api, [e for e in events if e not in completed])
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["amount_captured"]) == ("succeeded", 3000)
    attempts = await read(api, data["payment_id"], "/attempts")
    assert [a["outcome"] for a in attempts] == ["succeeded"]
    await assert_consistent(db, data["payment_id"])


@pytest.mark.parametrize(
    ("number", "final", "async_type"),
    [
        ("4000000000008880", "succeeded", "checkout.session.async_payment_succeeded"),
        ("4000000000007775", "requires_payment_method", "checkout.session.async_payment_failed"),
    ],
)
async def test_checkout_async_payment(
    api: Client, emulator: RunningEmulator, number: str, final: str, async_type: str
) -> None:
    data = await create_checkout(api)
    await _pay_checkout(emulator, data["url"], number)
    events = await _checkout_events(emulator, data)
    by_type = {e["type"]: e for e in events}
    assert async_type in by_type
    await deliver(api, [by_type["checkout.session.completed"]])
    assert (await read(api, data["payment_id"]))["status"] == "processing"
    await deliver(api, [by_type[async_type]])
    payment = await read(api, data["payment_id"])
    assert payment["status"] == final
    if final == "succeeded":
        assert payment["amount_captured"] == 3000
    await deliver(api, events)
    assert (await read(api, data["payment_id"]))["status"] == final


async def test_checkout_expired(api: Client, emulator: RunningEmulator) -> None:
    data = await create_checkout(api)
    status, _ = await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        f"checkout/sessions/{data['checkout_session_id']}/expire",
    )
    assert status == 200
    events = await _checkout_events(emulator, data)
    [expired] = [e for e in events if e["type"] == "checkout.session.expired"]
    await deliver(api, [expired])
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["cancellation_reason"]) == ("canceled", "expired")
    await deliver(api, events)
    assert (await read(api, data["payment_id"]))["status"] == "canceled"


async def test_checkout_expired_in_emission_order(api: Client, emulator: RunningEmulator) -> None:
    """After a declined attempt the session has a PaymentIntent; expiring it cancels that
    first (payment_intent.canceled, reason abandoned, a final status): the payment still
    says why: the session expired."""
    data = await create_checkout(api)
    await _pay_checkout(emulator, data["url"], "4000000000000002", declined=True)
    await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        f"checkout/sessions/{data['checkout_session_id']}/expire",
    )
    events = await _checkout_events(emulator, data)
    assert [e["type"] for e in events][-2:] == [
        "payment_intent.canceled",
        "checkout.session.expired",
    ]
    await deliver(api, events)
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["cancellation_reason"]) == ("canceled", "expired")


# refunds -------------------------------------------------------------------------------


async def _succeeded(api: Client, emulator: RunningEmulator) -> dict[str, Any]:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
    await deliver(api, events_of(emulator, made["payment_intent_id"]))
    assert (await read(api, made["payment_id"]))["status"] == "succeeded"
    return made


async def test_refunds_through_the_api_and_their_webhooks(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await _succeeded(api, emulator)
    url = f"/api/payments/{made['payment_id']}/refunds"
    first = await api.post(url, json={"amount": 1000}, headers=API)
    body = await first.json()
    assert first.status == 201, body
    assert (body["refund"]["amount"], body["refund"]["status"]) == (1000, "succeeded")
    assert body["payment"]["amount_refunded"] == 1000
    rest = await api.post(url, json={}, headers=API)
    body = await rest.json()
    assert rest.status == 201, body
    assert body["refund"]["amount"] == 1500
    assert body["payment"]["amount_refunded"] == 2500
    more = await api.post(url, json={"amount": 1}, headers=API)
    assert more.status == 422
    assert (await more.json())["error"]["code"] == "refund_exceeds_refundable"

    version = (await read(api, made["payment_id"]))["version"]
    refund_events = [
        e
        for e in events_of(emulator, made["payment_intent_id"])
        if e["type"].startswith(("refund.", "charge.refunded"))
    ]
    assert {e["type"] for e in refund_events} == {"refund.created", "charge.refunded"}
    # The API already recorded both refunds: their webhooks have nothing new to say.
    assert set(await deliver(api, refund_events)) == {"no_change"}
    payment = await read(api, made["payment_id"])
    assert payment["amount_refunded"] == 2500
    assert payment["status"] == "succeeded"
    assert payment["version"] == version
    refunds = await db.fetch(
        "SELECT amount, status FROM refunds WHERE payment_id = $1 ORDER BY amount",
        uuid.UUID(made["payment_id"]),
    )
    assert [(r["amount"], r["status"]) for r in refunds] == [
        (1000, "succeeded"),
        (1500, "succeeded"),
    ]
    kinds = [e["kind"] for e in await read(api, made["payment_id"], "/timeline")]
    assert kinds.count("refund_succeeded") >= 2
    await assert_consistent(db, made["payment_id"])


async def test_refund_made_outside_paylive_is_recorded(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await _succeeded(api, emulator)
    status, refund = await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        "refunds",
        {"payment_intent": made["payment_intent_id"], "amount": "700"},
    )
    assert status == 200, refund
    [created] = [
        e for e in events_of(emulator, made["payment_intent_id"]) if e["type"] == "refund.created"
    ]
    assert (await deliver(api, [created])) == ["applied"]
    payment = await read(api, made["payment_id"])
    assert payment["amount_refunded"] == 700
    row = await db.fetchrow(
        "SELECT amount, status FROM refunds WHERE stripe_refund_id = $1", refund["id"]
    )
    assert row is not None
    assert (row["amount"], row["status"]) == (700, "succeeded")
    timeline = await read(api, made["payment_id"], "/timeline")
    assert timeline[-1]["kind"] == "refund_succeeded"
    assert timeline[-1]["cause_id"] == created["id"]
    [charge_refunded] = [
        e for e in events_of(emulator, made["payment_intent_id"]) if e["type"] == "charge.refunded"
    ]
    assert (await deliver(api, [charge_refunded])) == ["no_change"]
    # What is left can still be refunded through the API, and no more.
    left = await api.post(
        f"/api/payments/{made['payment_id']}/refunds", json={"amount": 1801}, headers=API
    )
    assert left.status == 422


# delivery by the emulator --------------------------------------------------------------


async def test_decline_then_success_delivered_by_the_emulator(
    database_url: str, db: asyncpg.Connection
) -> None:
    async with running_emulator(processing_delay=0.05) as emulator:
        app = create_app(_settings(database_url, emulator))
        async with running_app(app) as service_url, aiohttp.ClientSession(service_url) as http:
            emulator.handle.config.webhook_url = f"{service_url}/webhooks/stripe"
            emulator.handle.config.webhook_secret = WEBHOOK_SECRET
            emulator.handle.knobs.retry_base = 0.05
            body = {"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd"}
            async with http.post("/api/payment-intents", json=body, headers=API) as response:
                made = await response.json()
                assert response.status == 201, made
            await confirm_intent(
                emulator, made["payment_intent_id"], "pm_card_chargeDeclinedExpiredCard"
            )
            await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
            await emulator.handle.wait_idle()
            assert all(d.ok for d in emulator.handle.deliveries)
            pid = made["payment_id"]
            async with http.get(f"/api/payments/{pid}", headers=API) as response:
                payment = await response.json()
            async with http.get(f"/api/payments/{pid}/attempts", headers=API) as response:
                attempts = (await response.json())["data"]
            assert payment["status"] == "succeeded"
            assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
            # The success's card comes from its charge event (PaymentIntent events only
            # name the charge), whichever of the two was delivered first.
            assert (attempts[1]["card_brand"], attempts[1]["card_last4"]) == ("visa", "4242")
            assert attempts[0]["error"]["code"] == "expired_card"
            # advice_code confirm_card_data: new card details (e.g. the renewed expiry).
            assert attempts[0]["advice"]["next_step"] == "fix_card_details"
            stats = app[WEBHOOK_STATS]
            assert stats.received_by_type["payment_intent.succeeded"] == 1
            assert stats.received_by_type["payment_intent.payment_failed"] == 1
            assert stats.outcomes["failed"] == 0
            await assert_consistent(db, pid)

            # A refund through the API while its webhooks land at the same moment.
            async with http.post(
                f"/api/payments/{pid}/refunds", json={"amount": 1000}, headers=API
            ) as response:
                refunded = await response.json()
                assert response.status == 201, refunded
            await emulator.handle.wait_idle()
            async with http.get(f"/api/payments/{pid}", headers=API) as response:
                payment = await response.json()
            assert payment["amount_refunded"] == 1000
            rows = await db.fetch(
                "SELECT amount, status, stripe_refund_id FROM refunds WHERE payment_id = $1",
                uuid.UUID(pid),
            )
            assert [(r["amount"], r["status"]) for r in rows] == [(1000, "succeeded")]
            assert rows[0]["stripe_refund_id"] == refunded["refund"]["stripe_refund_id"]
            assert stats.outcomes["failed"] == 0
            await assert_consistent(db, pid)


async def test_duplicated_and_reordered_deliveries(
    database_url: str, db: asyncpg.Connection
) -> None:
    async with running_emulator(processing_delay=0.05, seed=7) as emulator:
        app = create_app(_settings(database_url, emulator))
        async with running_app(app) as service_url, aiohttp.ClientSession(service_url) as http:
            emulator.handle.config.webhook_url = f"{service_url}/webhooks/stripe"
            emulator.handle.config.webhook_secret = WEBHOOK_SECRET
            emulator.handle.knobs.duplicate = True
            emulator.handle.knobs.shuffle_window = 0.2
            body = {"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd"}
            async with http.post("/api/payment-intents", json=body, headers=API) as response:
                made = await response.json()
            await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclined")
            await confirm_intent(emulator, made["payment_intent_id"], "pm_card_emulatorProcessing")
            await emulator.handle.wait_idle()
            assert all(d.ok for d in emulator.handle.deliveries)
            pid = made["payment_id"]
            async with http.get(f"/api/payments/{pid}", headers=API) as response:
                payment = await response.json()
            async with http.get(f"/api/payments/{pid}/attempts", headers=API) as response:
                attempts = (await response.json())["data"]
            assert payment["status"] == "succeeded"
            assert sorted(a["outcome"] for a in attempts) == ["failed", "processing", "succeeded"]
            stats = app[WEBHOOK_STATS]
            assert stats.outcomes["duplicate"] >= 1
            assert stats.outcomes["failed"] == 0
            await assert_consistent(db, pid)


async def test_one_access_log_line_says_what_the_webhook_did(
    database_url: str, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = TestServer(create_app(_settings(database_url, emulator)))
    await server.start_server(access_log_class=JsonAccessLogger)
    async with TestClient(server) as api:
        payment, event = await paid_by_card(api, emulator)
        caplog.clear()
        assert await deliver(api, [event]) == ["applied"]
        for _ in range(100):  # the access log is written once the answer has gone out
            lines = [r for r in caplog.records if r.getMessage().startswith("POST /webhooks")]
            if lines:
                break
            await asyncio.sleep(0.01)
    assert len(lines) == 1
    fields = lines[0].__dict__
    assert fields["event_id"] == event["id"]
    assert fields["event_type"] == "payment_intent.succeeded"
    assert fields["outcome"] == "applied"
    assert fields["payment_id"] == payment["payment_id"]
    assert fields["status"] == 200
    # and nothing else at INFO for it: one line per webhook
    assert not [r for r in caplog.records if r.name.startswith("service.") and r.levelno >= 20]
