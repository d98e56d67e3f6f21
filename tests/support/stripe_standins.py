"""StripeGateway under test: a gateway at any small aiohttp app standing in for Stripe,
a scripted stand-in that records what it was sent, and the calls tests make through it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler

from service.payments.ports import GatewayPaymentIntent
from service.stripe_gateway import StripeGateway
from tests.support.emulator import running_app

SECRET = "sk_test_gateway_secret_never_logged"


def key() -> str:
    return f"test-{uuid.uuid4()}"


def answering(handle: Handler) -> web.Application:
    """A Stripe stand-in where `handle` answers every request."""
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    return app


@asynccontextmanager
async def gateway_at(app: web.Application, **options: Any) -> AsyncIterator[StripeGateway]:
    """A gateway whose Stripe is `app`, closed after the block."""
    async with running_app(app) as url:
        gateway = StripeGateway(SECRET, api_base=url, **options)
        try:
            yield gateway
        finally:
            await gateway.close()


async def create_intent(gateway: StripeGateway, **overrides: Any) -> GatewayPaymentIntent:
    args: dict[str, Any] = {
        "amount": 1099,
        "currency": "usd",
        "customer": None,
        "description": None,
        "metadata": {"payment_id": "pay-1"},
        "capture_method": "automatic",
        "payment_method_types": None,
        "idempotency_key": key(),
    }
    args.update(overrides)
    return await gateway.create_payment_intent(**args)


class Recorder:
    """A tiny Stripe stand-in: answers from a script and records each request's headers."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, str]] = []
        self.bodies: list[list[tuple[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        self.bodies.append(parse_qsl(await request.text(), keep_blank_values=True))
        status, body = self.answers[min(len(self.requests), len(self.answers)) - 1]
        request_id = f"req_tiny{len(self.requests)}"
        return web.json_response(body, status=status, headers={"Request-Id": request_id})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    @property
    def idempotency_keys(self) -> list[str | None]:
        return [h.get("Idempotency-Key") for h in self.requests]


def api_error(type_: str, message: str, **extra: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **extra}}


PI_BODY: dict[str, Any] = {
    "id": "pi_tiny",
    "object": "payment_intent",
    "status": "requires_payment_method",
    "amount": 1099,
    "currency": "usd",
    "client_secret": "pi_tiny_secret_x",
    "created": 1700000000,
    "capture_method": "automatic",
    "metadata": {},
}
