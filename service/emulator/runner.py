"""Start the emulator in-process on a real TCP port (tests, the demo).

async with serve_emulator(EmulatorConfig(webhook_url=...)) as emu:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": emu.url}, ...)
    ...
    await emu.handle.wait_idle()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from .api import EMULATOR
from .app import create_emulator_app
from .config import EmulatorConfig
from .state import Emulator


@dataclass(frozen=True)
class RunningEmulator:
    url: str  # e.g. http://127.0.0.1:40123, the `api` base address for stripe-python
    handle: Emulator
    runner: web.AppRunner


async def start_emulator(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Serve the emulator; `port=0` picks a free port. Stop it with `runner.cleanup()`."""
    app = create_emulator_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1])  # the real port when port=0
    return RunningEmulator(f"http://{host}:{bound}", app[EMULATOR], runner)


@asynccontextmanager
async def serve_emulator(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(config, host, port)
    try:
        yield running
    finally:
        await running.runner.cleanup()
