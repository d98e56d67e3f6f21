"""The same stream as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import AUTH, STORE
from tests.support.payments import add_payment, change
from tests.support.settings import make_settings


async def next_event(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """Parse one SSE event (skipping comments): its name, id and JSON data."""
    event: dict[str, Any] = {}
    async with asyncio.timeout(5):
        while True:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            event[field] = json.loads(value) if field == "data" else value


async def test_stream_and_resume(aiohttp_client: AiohttpClient, database_url: str) -> None:
    live = await aiohttp_client(create_app(make_settings(database_url, catch_up_seconds=0.5)))
    store = live.app[STORE]
    payment = await add_payment(store)
    token = live.app[AUTH].issue_status_token(payment.id)
    url = f"/api/payments/{payment.id}/stream?token={token}"

    response = await live.get(url, headers={"X-Request-ID": "sse-1"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["X-Request-ID"] == "sse-1"
    snapshot = await next_event(response)
    assert (snapshot["event"], snapshot["id"]) == ("snapshot", "1")
    assert snapshot["data"]["payment"]["status"] == "requires_payment_method"

    await change(store, payment, "requires_action")
    update = await next_event(response)
    assert (update["event"], update["id"]) == ("update", "2")
    assert [e["status"] for e in update["data"]["timeline"]] == ["requires_action"]
    response.close()

    payment = await change(store, payment, "processing")
    payment = await change(store, payment, "succeeded")
    resumed = await live.get(url, headers={"Last-Event-ID": "2"})
    snapshot = await next_event(resumed)
    assert snapshot["id"] == "4"
    assert [e["version"] for e in snapshot["data"]["timeline"]] == [3, 4]
    assert snapshot["data"]["payment"]["status"] == "succeeded"
    resumed.close()


async def test_stream_needs_the_payments_token(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    live = await aiohttp_client(create_app(make_settings(database_url)))
    store = live.app[STORE]
    mine, other = await add_payment(store), await add_payment(store)
    other_token = live.app[AUTH].issue_status_token(other.id)
    assert (await live.get(f"/api/payments/{mine.id}/stream")).status == 401
    wrong = await live.get(f"/api/payments/{mine.id}/stream?token={other_token}")
    assert wrong.status == 403
    token = live.app[AUTH].issue_status_token(mine.id)
    bad = await live.get(
        f"/api/payments/{mine.id}/stream?token={token}", headers={"Last-Event-ID": "x"}
    )
    assert bad.status == 422
