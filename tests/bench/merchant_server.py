"""The merchant in its own process: ``python -m tests.bench.merchant_server PORT SECRET``.

It verifies each delivery with ``standardwebhooks`` and notes when it came; the benchmark
reads the count (``GET /count``) and the arrivals (``GET /arrivals``). A process of its
own, as a merchant's server is: its work does not slow the benchmark's load generator.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime

from aiohttp import web
from standardwebhooks import Webhook

from tests.bench.common import until_signalled


class Merchant:
    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        # Stripe event id: (monotonic, wall clock, the notification's timestamp)
        self.arrived: dict[str, tuple[float, float, float]] = {}
        self.count = 0

    async def hook(self, request: web.Request) -> web.Response:
        mono, wall = time.monotonic(), time.time()
        payload = self.webhook.verify(await request.text(), dict(request.headers))
        stamp = datetime.fromisoformat(payload["timestamp"]).timestamp()
        self.arrived.setdefault(payload["data"]["cause"]["id"], (mono, wall, stamp))
        self.count += 1
        return web.Response(status=204)

    async def count_(self, _: web.Request) -> web.Response:
        return web.json_response({"count": self.count})

    async def arrivals(self, _: web.Request) -> web.Response:
        return web.json_response(self.arrived)


async def serve(port: int, secret: str) -> None:
    merchant = Merchant(secret)
    app = web.Application()
    app.router.add_post("/hooks", merchant.hook)
    app.router.add_get("/count", merchant.count_)
    app.router.add_get("/arrivals", merchant.arrivals)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await until_signalled()
    finally:
        await runner.cleanup()


def main() -> None:
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))


if __name__ == "__main__":
    main()
