"""`serve --workers 2`: two processes on one port; a webhook taken by either process
reaches the subscribers of both."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from service.db.store import PgStore
from service.payments.models import StripeIds
from tests.support.api import API
from tests.support.payments import add_payment
from tests.support.processes import free_port, serve_env, spawn_service, wait_ready
from tests.support.webhooks import event_body, intent, make_event, signed_headers


@pytest.fixture
def workers(database_url: str) -> Iterator[str]:
    port = free_port()
    env = serve_env(database_url)
    parent = spawn_service(env, "--workers", "2", "--port", str(port))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=20) == 0


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=10)
        body: dict[str, Any] = json.loads(msg.data)
        if body["type"] != "ping":
            return body


async def test_webhook_on_any_worker_reaches_every_worker(workers: str, store: PgStore) -> None:
    payment = await add_payment(store)
    async with store.transaction() as tx:
        await tx.attach_stripe_ids(
            payment.id, StripeIds(stripe_payment_intent_id=f"pi_w_{payment.id.hex}")
        )
    async with aiohttp.ClientSession() as session:
        assert await wait_ready(session, f"http://{workers}", seconds=30)
        sockets = [await session.ws_connect(f"http://{workers}/ws", headers=API) for _ in range(12)]
        for ws in sockets:
            await ws.send_json({"type": "subscribe", "payment_id": str(payment.id)})
            assert (await _next(ws))["type"] == "snapshot"
        # Each connection lands on one of the two processes (SO_REUSEPORT); every one of
        # them must hear the change whichever process takes the webhook.
        statuses = ["requires_action", "processing", "succeeded"]
        for i, status in enumerate(statuses):
            event = make_event(
                f"payment_intent.{'succeeded' if status == 'succeeded' else status}",
                intent(f"pi_w_{payment.id.hex}", status),
                created=1_700_000_000 + i,
            )
            body = event_body(event)
            async with session.post(
                f"http://{workers}/webhooks/stripe",
                data=body.encode(),
                headers=signed_headers(body),
            ) as response:
                assert response.status == 200, await response.text()
        for ws in sockets:
            versions: list[int] = []
            while not versions or versions[-1] < 4:
                message = await _next(ws)
                versions.append(message["version"])
            assert message["payment"]["status"] == "succeeded"
            await ws.close()
