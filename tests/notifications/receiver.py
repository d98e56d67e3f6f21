"""A real merchant endpoint on a loopback port whose answers the test decides.

Every request is verified with the ``standardwebhooks`` library, unchanged, as a
merchant would; ``answer`` picks the HTTP status (and may wait) for each delivery.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.processes import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_dGhlIHJvdGF0ZWQtaW4gc2VjcmV0IG9mIHRoZSBtZXJjaGFudA=="


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    payload: dict[str, Any]
    status: int  # what the receiver answered

    @property
    def key(self) -> tuple[str, int]:
        return self.payload["data"]["payment_id"], self.payload["data"]["version"]


Answer = Callable[[Delivery], Awaitable[int]]


async def accept(_: Delivery) -> int:
    return 204


@dataclass
class Receiver:
    secret: str = SECRET
    answer: Answer = accept
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)  # answered ones, in order
    in_flight: dict[str, int] = field(default_factory=dict)  # webhook-id: requests open
    overlaps: list[str] = field(default_factory=list)  # ids seen twice at once
    open_requests: int = 0
    most_open: int = 0  # the most requests open at once
    rejected: int = 0  # bad signatures
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/paylive"

    def delivered(self) -> list[Delivery]:
        return [d for d in self.deliveries if 200 <= d.status < 300]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=400)
        webhook_id = request.headers["webhook-id"]
        if self.in_flight.get(webhook_id):
            self.overlaps.append(webhook_id)
        self.in_flight[webhook_id] = self.in_flight.get(webhook_id, 0) + 1
        self.open_requests += 1
        self.most_open = max(self.most_open, self.open_requests)
        self.arrived.set()
        try:
            status = await self.answer(Delivery(webhook_id, payload, 0))
        finally:
            self.in_flight[webhook_id] -= 1
            self.open_requests -= 1
        self.deliveries.append(Delivery(webhook_id, payload, status))
        return web.Response(status=status)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hooks/paylive", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll a condition (fast: the worker is nudged, these are milliseconds)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def ordered_per_payment(deliveries: list[Delivery]) -> bool:
    last: dict[str, int] = {}
    for d in deliveries:
        payment, version = d.key
        if version <= last.get(payment, 0):
            return False
        last[payment] = version
    return True


def dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True)
