"""The service as a real process: free ports, spawning, waiting until it is ready."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import aiohttp

from service.config import PROJECT_ROOT
from tests.support.settings import TEST_API_KEY
from tests.support.webhooks import WEBHOOK_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(database_url: str, **extra: str) -> dict[str, str]:
    """What ``serve`` needs to start against `database_url`: the test API key and webhook
    secret, and a Stripe address nothing listens on (no Stripe call expected)."""
    return {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": "sk_test_paylive_served",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "API_KEYS": TEST_API_KEY,
        **extra,
    }


def spawn_service(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`python -m service serve …args` with only ``env`` (plus PATH) as its environment."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LOG_LEVEL": "WARNING", **env}
    command = [sys.executable, "-m", "service", "serve", *args]
    return subprocess.Popen(command, env=full_env, cwd=PROJECT_ROOT)


async def wait_ready(session: aiohttp.ClientSession, url: str, seconds: float = 20) -> bool:
    """Poll /readyz until 200 (True) or the time is up (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return True
        except aiohttp.ClientConnectionError:
            pass  # not listening yet
        await asyncio.sleep(0.2)
    return False
