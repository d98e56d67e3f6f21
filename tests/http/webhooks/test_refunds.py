"""Refund webhooks: refunds made through the API and ones made outside paylive."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.support.api import API, Client, confirm_intent, create_payment_intent
from tests.support.deliveries import assert_consistent, deliver, events_of, read
from tests.support.emulator import RunningEmulator
from tests.support.webhooks import emulator_call


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
