"""The service on a real port in a thread of its own, for synchronous tests (hypothesis
drives them; it cannot drive an async test) that call it with ``http.client``.

    with service_in_thread(database_url, demo_page=True) as served:
        status, body = served.call("GET", "/api/payments?limit=2", headers=API)
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from service.app import create_app
from tests.support.emulator import running_app, running_emulator
from tests.support.settings import make_settings
from tests.support.webhooks import WEBHOOK_SECRET


@dataclass(frozen=True)
class Served:
    url: str
    app: web.Application
    loop: asyncio.AbstractEventLoop

    def call(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str | bytes] | None = None,
    ) -> tuple[int, Any]:
        """One request on a fresh connection; (status, parsed JSON body or None).

        Header values may be bytes, sent as they are (not-UTF-8 included)."""
        status, raw = self.raw_call(method, target, body, headers)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    def raw_call(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str | bytes] | None = None,
    ) -> tuple[int, bytes]:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            if response.getheader("Content-Type", "").startswith("text/event-stream"):
                return response.status, b""  # a live stream: never ends by itself
            return response.status, response.read()
        finally:
            conn.close()

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the app's loop (e.g. a database query through its pool)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)


@contextlib.contextmanager
def app_in_thread(make_app: Callable[[str], web.Application]) -> Iterator[Served]:
    """`make_app(stripe_api_base)` served next to a Stripe emulator, until the block ends."""
    ready = threading.Event()
    served: list[Served] = []
    failed: list[BaseException] = []
    stop: list[asyncio.Event] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        async with running_emulator() as emulator:
            app = make_app(emulator.url)
            async with running_app(app) as url:
                served.append(Served(url, app, asyncio.get_running_loop()))
                ready.set()
                await stop[0].wait()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test's thread
            failed.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=thread_main, name="app-in-thread", daemon=True)
    thread.start()
    ready.wait(60)
    if failed or not served:
        raise RuntimeError("the app did not start") from (failed[0] if failed else None)
    try:
        yield served[0]
    finally:
        served[0].loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)


@contextlib.contextmanager
def service_in_thread(database_url: str, **overrides: object) -> Iterator[Served]:
    """The service (webhook secret and redirect origin of the test helpers set, plus
    `overrides`) next to its emulator, in a thread."""

    def make(stripe_url: str) -> web.Application:
        values: dict[str, object] = {
            "stripe_api_base": stripe_url,
            "stripe_webhook_secrets": [WEBHOOK_SECRET],
            "allowed_redirect_origins": ["https://shop.example"],
            **overrides,
        }
        return create_app(make_settings(database_url, **values))

    with app_in_thread(make) as served:
        yield served
