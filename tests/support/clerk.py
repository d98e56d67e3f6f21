"""The demo with sign-in: the Clerk stand-in on a real port beside ``running_demo``.

async with demo_with_sign_in(database_url) as (demo, clerk):
    await page.goto(demo.url)  # "Sign in" leads to the stand-in's page
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from service.emulator.clerk.app import STANDIN, ClerkConfig, ClerkStandIn, create_clerk_app
from tests.support.browser import Demo, running_demo
from tests.support.emulator import running_app


@contextlib.asynccontextmanager
async def demo_with_sign_in(
    database_url: str, **options: Any
) -> AsyncIterator[tuple[Demo, ClerkStandIn]]:
    app = create_clerk_app(ClerkConfig(public_url="", retry_base=0.1))
    standin = app[STANDIN]
    async with running_app(app) as clerk_url:
        standin.config.public_url = clerk_url  # the issuer, known once bound
        async with running_demo(
            database_url,
            auth_jwks_url=f"{clerk_url}/.well-known/jwks.json",
            auth_issuer=clerk_url,
            auth_sign_in_url=f"{clerk_url}/sign-in",
            clerk_webhook_signing_secret=standin.config.webhook_secret,
            **options,
        ) as demo:
            standin.config.webhook_url = f"{demo.url}/webhooks/clerk"
            standin.config.allowed_origins = [demo.url]
            yield demo, standin
