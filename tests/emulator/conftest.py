"""Fixtures: the emulator on a real port, a webhook receiver, and clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.emulator import EMULATOR, DeliveryKnobs, Emulator, EmulatorConfig, create_emulator_app
from tests.support.stripe_conformance import check_conformance

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
SECRET_KEY = "sk_test_emulator"
PUBLISHABLE_KEY = "pk_test_emulator"


@dataclass
class Receiver:
    """A webhook endpoint that verifies Stripe's signature like the service does."""

    secret: str = ""
    url: str = ""
    fail_first: int = 0  # answer 500 to this many requests first
    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    requests: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        payload = await request.text()
        try:
            stripe.WebhookSignature.verify_header(
                payload, request.headers.get("Stripe-Signature"), self.secret, tolerance=300
            )
        except stripe.SignatureVerificationError:
            self.rejected += 1
            return web.Response(status=400)
        if self.requests <= self.fail_first:
            return web.Response(status=500)
        self.events.append(json.loads(payload))
        return web.Response(text="ok")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@dataclass
class Running:
    url: str
    handle: Emulator
    receiver: Receiver


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(
        processing_delay=0.2,
        expiry_sweep_interval=0.05,
        min_session_lifetime=1,
        seed=7,
        knobs=DeliveryKnobs(retry_base=0.02, max_attempts=4, timeout=2.0),
    )


@pytest.fixture
async def receiver(aiohttp_server: ServerFactory) -> Receiver:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/stripe", rec.handle)
    server = await aiohttp_server(app)
    rec.url = str(server.make_url("/webhooks/stripe"))
    return rec


@pytest.fixture
async def emulator(
    aiohttp_server: ServerFactory, config: EmulatorConfig, receiver: Receiver
) -> AsyncIterator[Running]:
    """The emulator; every answer it gives is checked against Stripe's API spec."""
    config.webhook_url = receiver.url
    app = create_emulator_app(config)
    conformance = check_conformance(app)
    server = await aiohttp_server(app)
    handle = app[EMULATOR]
    assert handle.webhook_secret is not None
    receiver.secret = handle.webhook_secret
    yield Running(str(server.make_url("")).rstrip("/"), handle, receiver)
    conformance.assert_clean()


@pytest.fixture
async def client(emulator: Running) -> AsyncIterator[stripe.StripeClient]:
    http_client = stripe.AIOHTTPClient()
    yield stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": emulator.url},
        http_client=http_client,
        max_network_retries=0,
    )
    await close_http(http_client)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def close_http(http_client: stripe.AIOHTTPClient) -> None:
    """Close the SDK's aiohttp session (the SDK leaves this method untyped)."""
    await http_client.close_async()  # type: ignore[no-untyped-call]


def auth(key: str = SECRET_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Api:
    """Raw calls to the emulator's API: (status, JSON body), the exact wire shapes."""

    http: aiohttp.ClientSession
    base: str

    async def call(
        self, method: str, path: str, data: dict[str, str] | None = None, key: str = SECRET_KEY
    ) -> tuple[int, dict[str, Any]]:
        params = data if method == "GET" else None
        form = data if method != "GET" else None
        async with self.http.request(
            method, self.base + path, params=params, data=form, headers=auth(key)
        ) as resp:
            body: dict[str, Any] = await resp.json()
            return resp.status, body

    async def ok(
        self, method: str, path: str, data: dict[str, str] | None = None, key: str = SECRET_KEY
    ) -> dict[str, Any]:
        status, body = await self.call(method, path, data, key)
        assert status == 200, body
        return body

    async def challenge(self, intent: dict[str, Any], outcome: str = "complete") -> int:
        """Answer the 3-D Secure page for a Payment- or SetupIntent; the page's status."""
        url = f"{self.base}/3ds/{intent['id']}/{outcome}"
        secret = {"client_secret": intent["client_secret"]}
        async with self.http.post(url, data=secret, allow_redirects=False) as resp:
            await resp.read()
            return resp.status


@pytest.fixture
def api(emulator: Running, http: aiohttp.ClientSession) -> Api:
    return Api(http, emulator.url)
