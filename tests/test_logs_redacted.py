"""Logs never contain secrets, tokens, client secrets, card numbers or emails.

A representative set of flows (creating, paying through the emulator and its signed
webhooks, reading with status tokens by header and query, SSE, the WebSocket, refunds,
replays, refused credentials, a bad body) runs with every logger at DEBUG, each record
formatted as production formats it (extra fields included); then the output is searched
for every secret the flows used."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from service.app import create_app
from service.http.request_id import JsonAccessLogger
from service.keys import AUTH
from service.logs import JsonFormatter, configure_logging
from service.serving import handler_args
from service.tokens import issue_order_token
from tests.support.api import confirm_intent
from tests.support.emulator import running_emulator
from tests.support.settings import TEST_API_KEY, TEST_STATUS_SECRET, make_settings
from tests.support.webhooks import WEBHOOK_SECRET, make_event, signed_headers

ORDER_SECRET = "order-token-secret-0123456789abcdef0123"
WRONG_KEY = "wrong-api-key-0123456789abcdefXYZ"
EMAIL = "ann.customer@shop.example"
OTHER_EMAIL = "bob.buyer@shop.example"
CARD = "4242424242424242"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def _flows(base: str, emulator: Any, app: web.Application) -> set[str]:
    """Run the flows; every secret they used."""
    used = {TEST_API_KEY, WRONG_KEY, ORDER_SECRET, TEST_STATUS_SECRET, WEBHOOK_SECRET, CARD}
    used |= {EMAIL, OTHER_EMAIL, emulator.secret_key}
    api = {"Authorization": f"Bearer {TEST_API_KEY}"}
    async with aiohttp.ClientSession(base) as http:
        body = {
            "order_id": f"order-{uuid.uuid4()}",
            "amount": 2500,
            "currency": "usd",
            "customer": {"external_id": "ann", "email": EMAIL, "name": "Ann"},
        }
        key = {"Idempotency-Key": str(uuid.uuid4())}
        async with http.post("/api/payment-intents", json=body, headers={**api, **key}) as r:
            made = await r.json()
            assert r.status == 201, made
        async with http.post("/api/payment-intents", json=body, headers={**api, **key}) as r:
            assert r.headers["Idempotent-Replayed"] == "true"
        used |= {made["client_secret"], made["status_token"]}
        pid, token = made["payment_id"], made["status_token"]

        order_id = f"order-{uuid.uuid4()}"
        order_token = issue_order_token(
            ORDER_SECRET.encode(), order_id, 900, "usd", int(time.time()) + 300, customer="ann"
        )
        used.add(order_token)
        browser = {"order_id": order_id, "amount": 900, "currency": "usd"}
        async with http.post(
            "/api/payment-intents", json=browser, headers={"X-Order-Token": order_token}
        ) as r:
            by_browser = await r.json()
            assert r.status == 201, by_browser
        used |= {by_browser["client_secret"], by_browser["status_token"]}
        refused = {**browser, "customer": {"external_id": "ann", "email": OTHER_EMAIL}}
        async with http.post(
            "/api/payment-intents", json=refused, headers={"X-Order-Token": order_token}
        ) as r:
            assert r.status == 403

        await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
        await emulator.handle.wait_idle()
        assert emulator.handle.deliveries
        assert all(d.ok for d in emulator.handle.deliveries)

        for headers, query in (({"X-Status-Token": token}, ""), ({}, f"?token={token}")):
            async with http.get(f"/api/payments/{pid}{query}", headers=headers) as r:
                assert (await r.json())["status"] == "succeeded"
        for bad in ({"X-Status-Token": token + "x"}, {"Authorization": f"Bearer {WRONG_KEY}"}):
            async with http.get(f"/api/payments/{pid}", headers=bad) as r:
                assert r.status == 401
        async with http.get(f"/api/payments/{pid}/stream?token={token}") as r:
            assert r.status == 200
            assert b"snapshot" in await r.content.readuntil(b"\n\n")
        async with http.ws_connect("/ws") as ws:
            await ws.send_json({"type": "subscribe", "payment_id": pid, "token": token})
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        async with http.ws_connect("/ws") as ws:
            await ws.send_json({"type": "subscribe", "payment_id": pid, "token": "x" + token})
            assert (await ws.receive_json(timeout=5))["type"] == "error"

        async with http.post(f"/api/payments/{pid}/refunds", json={}, headers=api) as r:
            assert r.status == 201, await r.json()
        card_body = {**body, "order_id": f"order-{uuid.uuid4()}", "description": 7, "card": CARD}
        async with http.post("/api/payment-intents", json=card_body, headers=api) as r:
            assert r.status == 422
        event = make_event("payment_intent.succeeded", {"id": "pi_x", "receipt_email": EMAIL})
        text = str(event).replace("'", '"').replace("False", "false").replace("None", "null")
        headers = signed_headers(text)
        used.add(headers["Stripe-Signature"].split("v1=")[1])
        async with http.post("/webhooks/stripe", data=text, headers=headers) as r:
            assert r.status == 200
        bad_sig = signed_headers(text, "whsec_not_the_secret_0123456789")
        async with http.post("/webhooks/stripe", data=text, headers=bad_sig) as r:
            assert r.status == 400
        await asyncio.sleep(0.2)  # the last access-log lines
    return used


async def test_no_secret_reaches_the_logs(database_url: str) -> None:
    collect = _Collect()
    root = logging.getLogger()
    previous = root.level, list(root.handlers), logging.getLogger("stripe").level
    configure_logging("DEBUG")  # as `LOG_LEVEL=DEBUG` configures a real process
    root.handlers[:] = [collect]
    try:
        async with running_emulator(processing_delay=0.05) as emulator:
            settings = make_settings(
                database_url,
                stripe_api_base=emulator.url,
                stripe_webhook_secrets=[WEBHOOK_SECRET],
                order_token_secret=ORDER_SECRET,
                log_level="DEBUG",
            )
            app = create_app(settings)
            runner = web.AppRunner(app, access_log_class=JsonAccessLogger, **handler_args(settings))
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                base = f"http://127.0.0.1:{runner.addresses[0][1]}"
                emulator.handle.config.webhook_url = f"{base}/webhooks/stripe"
                emulator.handle.config.webhook_secret = WEBHOOK_SECRET
                assert app[AUTH].order_secret is not None
                used = await _flows(base, emulator, app)
            finally:
                await runner.cleanup()
    finally:
        root.setLevel(previous[0])
        root.handlers[:] = previous[1]
        logging.getLogger("stripe").setLevel(previous[2])
    output = "\n".join(collect.lines)
    assert len(collect.lines) > 20, output  # the flows did log: access lines at least
    assert '"status": 201' in output
    leaked = sorted(secret[:12] + "…" for secret in used if secret in output)
    assert not leaked, leaked


@pytest.mark.parametrize("secret", [TEST_API_KEY, EMAIL])
def test_the_search_would_find_a_leak(secret: str) -> None:
    record = logging.makeLogRecord({"msg": "x", "extra_field": f"...{secret}..."})
    assert secret in JsonFormatter().format(record)
