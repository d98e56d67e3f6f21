"""SIGTERM: the webhook in flight finishes, live sockets are told to reconnect, exit 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import aiohttp
import asyncpg

from service.db.pool import create_pool
from service.db.store import PgStore
from service.payments.models import StripeIds
from tests.support.payments import add_payment
from tests.support.processes import free_port, spawn_service, wait_ready
from tests.support.settings import TEST_API_KEY
from tests.support.webhooks import WEBHOOK_SECRET, event_body, intent, make_event, signed_headers


async def test_sigterm_finishes_webhooks_and_closes_sockets(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    store = PgStore(pool)
    payment = await add_payment(store)
    intent_id = f"pi_term_{payment.id.hex}"
    async with store.transaction() as tx:
        await tx.attach_stripe_ids(payment.id, StripeIds(stripe_payment_intent_id=intent_id))
    await pool.close()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": "sk_test_paylive_term",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "API_KEYS": TEST_API_KEY,
        "SHUTDOWN_TIMEOUT_SECONDS": "10",
        "LOG_LEVEL": "WARNING",
    }
    server = spawn_service(env, "--port", str(port))
    admin = await asyncpg.connect(database_url)
    try:
        async with aiohttp.ClientSession() as session:
            assert await wait_ready(session, url)
            ws = await session.ws_connect(
                f"{url}/ws", headers={"Authorization": f"Bearer {TEST_API_KEY}"}
            )
            await ws.send_json({"type": "subscribe", "payment_id": str(payment.id)})
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"

            # Hold the payment's row lock so the webhook is still in flight at SIGTERM.
            lock = admin.transaction()
            await lock.start()
            await admin.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", payment.id)
            event = make_event("payment_intent.succeeded", intent(intent_id, "succeeded"))
            body = event_body(event)
            webhook = asyncio.ensure_future(
                session.post(
                    f"{url}/webhooks/stripe", data=body.encode(), headers=signed_headers(body)
                )
            )
            await asyncio.sleep(0.5)
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            closing = await ws.receive(timeout=5)
            assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1012)
            await asyncio.sleep(0.5)
            await lock.rollback()  # the webhook may now finish
            response = await webhook
            assert response.status == 200
            assert (await response.json())["outcome"] == "applied"
            response.release()
        assert server.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        status = await admin.fetchval("SELECT status FROM payments WHERE id = $1", payment.id)
        assert status == "succeeded"
    finally:
        server.kill()
        server.wait()
        await admin.close()
