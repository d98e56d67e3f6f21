"""What the Node tests of paylive.js ask of the test's Python side, over HTTP.

The service runs as a real process (``python -m service serve``); this small app beside it
makes payments in its database, moves them on with signed Stripe webhooks, and restarts
the service on the same port (its live clients are closed with 1012), so the assertions
can live in JavaScript while Python owns the fixtures.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from service.db.store import PgStore
from service.tokens import issue_status_token
from tests.support.payments import add_payment
from tests.support.processes import spawn_service, wait_ready
from tests.support.settings import TEST_API_KEY, TEST_STATUS_SECRET
from tests.support.webhooks import (
    WEBHOOK_SECRET,
    card_error,
    event_body,
    intent,
    make_event,
    signed_headers,
)


def service_env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": "sk_test_paylive_js",
        "STRIPE_API_BASE": "http://127.0.0.1:9",  # nothing here reaches Stripe
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "API_KEYS": TEST_API_KEY,
        "STATUS_TOKEN_SECRET": TEST_STATUS_SECRET,  # tokens stay valid across a restart
        "RECONCILE_ENABLED": "false",
        "WS_SLOW_AFTER_SECONDS": "1",
        "WS_PING_SECONDS": "2",
        "CATCH_UP_SECONDS": "1",
        "SHUTDOWN_TIMEOUT_SECONDS": "5",
    }


@dataclass
class ServiceProcess:
    """The service on a fixed port, restartable."""

    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.process = spawn_service(self.env, "--port", str(self.port))
        assert await wait_ready(http, self.url, seconds=30), "the service did not start"

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self.process = None
        return code

    async def restart(self, http: aiohttp.ClientSession) -> None:
        assert await asyncio.to_thread(self.stop) == 0
        self.restarts += 1
        await self.start(http)


@dataclass
class Control:
    store: PgStore
    service: ServiceProcess
    http: aiohttp.ClientSession
    intents: dict[str, str] = field(default_factory=dict)  # payment id -> PaymentIntent id
    clock: int = field(default_factory=lambda: int(time.time()))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/payments", self.payments)
        app.router.add_post("/advance", self.advance)
        app.router.add_post("/restart", self.restart)
        return app

    async def payments(self, request: web.Request) -> web.Response:
        """``{count, padding}`` → ``[{payment_id, token}]``; `padding` bytes of metadata make
        every state that large (a slow reader's socket fills up sooner)."""
        body = await request.json()
        metadata = {"padding": "x" * int(body.get("padding", 0))} if body.get("padding") else {}
        made = []
        for _ in range(int(body.get("count", 1))):
            intent_id = f"pi_js_{uuid.uuid4().hex}"
            payment = await add_payment(self.store, metadata, intent_id=intent_id)
            self.intents[str(payment.id)] = intent_id
            token = issue_status_token(
                TEST_STATUS_SECRET.encode(), str(payment.id), int(time.time()), 3600
            )
            made.append({"payment_id": str(payment.id), "token": token})
        return web.json_response(made)

    async def advance(self, request: web.Request) -> web.Response:
        """``{payment_id, failures, succeed}``: that many declined attempts (one version each)
        as signed webhooks, then optionally success; answers the payment's version."""
        body = await request.json()
        payment_id = body["payment_id"]
        intent_id = self.intents[payment_id]
        events = [
            make_event(
                "payment_intent.payment_failed",
                intent(
                    intent_id,
                    "requires_payment_method",
                    last_payment_error=card_error("card_declined", "insufficient_funds"),
                ),
                created=self._tick(),
            )
            for _ in range(int(body.get("failures", 1)))
        ]
        if body.get("succeed"):
            events.append(
                make_event(
                    "payment_intent.succeeded",
                    intent(intent_id, "succeeded"),
                    created=self._tick(),
                )
            )
        for event in events:
            await self._post(event)
        payment = await self._payment(payment_id)
        return web.json_response({"version": payment["version"], "status": payment["status"]})

    async def restart(self, request: web.Request) -> web.Response:
        await self.service.restart(self.http)
        return web.json_response({"restarts": self.service.restarts})

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    async def _post(self, event: dict[str, Any]) -> None:
        body = event_body(event)
        async with self.http.post(
            f"{self.service.url}/webhooks/stripe", data=body.encode(), headers=signed_headers(body)
        ) as response:
            assert response.status == 200, await response.text()

    async def _payment(self, payment_id: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.service.url}/api/payments/{payment_id}",
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        ) as response:
            data: dict[str, Any] = await response.json()
            return data
