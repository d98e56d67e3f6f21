"""The Stripe emulator (or any small aiohttp app) on a real localhost port, for a test.

    async with running_emulator(min_session_lifetime=1) as emulator:
        gateway = StripeGateway(EMULATOR_SECRET_KEY, api_base=emulator.url)
        ...
        emulator.handle.events()

Plain async context managers rather than fixtures, so any test module (or a benchmark)
can start as many as it needs and choose the config per test. Every answer the emulator
gives is checked against Stripe's API spec; a violation fails the test on leaving the
`async with` block (see `stripe_conformance.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from service.emulator import EMULATOR, Emulator, EmulatorConfig, create_emulator_app
from tests.support.stripe_conformance import check_conformance

# The emulator accepts any `sk_test_…` key.
EMULATOR_SECRET_KEY = "sk_test_paylive_emulator"
EMULATOR_PUBLISHABLE_KEY = "pk_test_paylive_emulator"


@dataclass(frozen=True)
class RunningEmulator:
    url: str  # base URL without a trailing slash, e.g. http://127.0.0.1:41234
    handle: Emulator  # state, knobs, events(), wait_idle()
    secret_key: str = EMULATOR_SECRET_KEY


@contextlib.asynccontextmanager
async def running_app(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 at a free port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def running_emulator(
    config: EmulatorConfig | None = None, **options: Any
) -> AsyncIterator[RunningEmulator]:
    """The emulator app on a real port; `options` are `EmulatorConfig` fields."""
    if config is not None and options:
        raise TypeError("pass either a config or config fields, not both")
    app = create_emulator_app(config or EmulatorConfig(**options))
    conformance = check_conformance(app)
    async with running_app(app) as url:
        yield RunningEmulator(url=url, handle=app[EMULATOR])
    conformance.assert_clean()  # not reached when the block raised: that error comes first
