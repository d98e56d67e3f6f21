"""Events from the emulator handed to the service's /webhooks/stripe by hand, and what the
service then shows: the test decides which events arrive, in which order, how often."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import asyncpg

from service.config import Settings
from tests.support.api import API, SHOP, Client, confirm_intent, create_payment_intent
from tests.support.emulator import RunningEmulator
from tests.support.settings import make_settings
from tests.support.webhooks import WEBHOOK_SECRET, post_event


def webhook_settings(database_url: str, emulator: RunningEmulator, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "stripe_api_base": emulator.url,
        "stripe_webhook_secrets": [WEBHOOK_SECRET],
        "allowed_redirect_origins": [SHOP],
    }
    values.update(overrides)
    return make_settings(database_url, **values)


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
