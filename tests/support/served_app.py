"""The app in this process, as ``serve`` runs it (same handler arguments), on a free port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from service.app import create_app
from service.config import Settings
from service.serving import handler_args


@contextlib.asynccontextmanager
async def served_app(settings: Settings) -> AsyncIterator[tuple[web.Application, int]]:
    """(the app, its port) until the block ends."""
    app = create_app(settings)
    runner = web.AppRunner(app, **handler_args(settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield app, runner.addresses[0][1]
    finally:
        await runner.cleanup()
