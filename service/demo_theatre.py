"""The demo's theatre backend: a real merchant receiver of paylive's notifications.

It verifies each delivery with the ``standardwebhooks`` package, as any merchant would,
and on ``payment.succeeded`` marks the booking's seats sold; the demo page asks it
(``GET /theatre/orders/{order_id}``) and shows "confirmed by the theatre". Mounted next to
the service by ``python -m service demo`` (routes.py, demo page only); in memory, as a
demo's backend may be.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

log = logging.getLogger(__name__)

PREFIX = "/theatre"
WEBHOOK_PATH = "/webhooks/paylive"


class Theatre:
    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)
        self._seen: set[str] = set()  # at-least-once delivery: act on each id once
        self.sold: dict[str, list[str]] = {}  # order id: seats

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            event: dict[str, Any] = self._webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return web.json_response({"error": "bad signature"}, status=400)
        webhook_id = request.headers["webhook-id"]
        if webhook_id not in self._seen and event["type"] == "payment.succeeded":
            data = event["data"]
            self.sold[data["order_id"]] = data["metadata"].get("seats", "").split()
            log.info("theatre: order paid, seats sold")
        self._seen.add(webhook_id)
        return web.Response(status=204)

    async def order(self, request: web.Request) -> web.Response:
        seats = self.sold.get(request.match_info["order_id"])
        return web.json_response({"confirmed": seats is not None, "seats": seats or []})


def theatre_app(secret: str) -> web.Application:
    theatre = Theatre(secret)
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, theatre.receive)
    app.router.add_get("/orders/{order_id}", theatre.order)
    return app
