"""Stripe's signature on /webhooks/stripe: bad, stale and future signatures, rotated secrets,
the body size limit, and bodies that are not events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import WEBHOOK_STATS
from tests.support.api import Client
from tests.support.deliveries import inbox_count, webhook_settings
from tests.support.emulator import RunningEmulator
from tests.support.webhooks import event_body, intent, make_event, post_event, signed_headers


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
    settings = webhook_settings(
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
        create_app(webhook_settings(database_url, emulator, max_webhook_bytes=200_000))
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
