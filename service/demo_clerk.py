"""The demo's sign-in: the Clerk stand-in as a child process, unless a real one is configured.

With AUTH_JWKS_URL or AUTH_JWT_KEY in the environment (a real Clerk instance) nothing is
started. Otherwise ``python -m service.emulator.clerk`` runs beside the service, sending
its Svix-signed user events to this service's /webhooks/clerk (production code never
imports it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from pydantic import SecretStr

from service.config import Settings

log = logging.getLogger(__name__)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Clerk stand-in exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - local
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError("the Clerk stand-in did not start in time")


@contextlib.contextmanager
def demo_sign_in(settings: Settings, own_url: str, clerk_port: int) -> Iterator[Settings]:
    if settings.auth_jwks_url or settings.auth_jwt_key:
        log.info("signed-in customers: using the configured identity provider")
        yield settings
        return
    base = f"http://127.0.0.1:{clerk_port}"
    origins = settings.allowed_redirect_origins
    secret = settings.clerk_webhook_signing_secret
    if secret is None:
        from service.emulator.clerk.app import new_signing_secret  # the demo only

        secret = SecretStr(new_signing_secret())
    command = [sys.executable, "-m", "service.emulator.clerk", "--port", str(clerk_port)]
    command += ["--public-url", base, "--webhook-url", f"{own_url}/webhooks/clerk"]
    for origin in origins:
        command += ["--allowed-origin", origin]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["CLERK_STANDIN_WEBHOOK_SECRET"] = secret.get_secret_value()
    process = subprocess.Popen(command, env=env)
    try:
        _wait_until_up(f"{base}/.well-known/jwks.json", process)
        log.info("Clerk stand-in on %s", base)
        yield settings.model_copy(
            update={
                "auth_jwks_url": f"{base}/.well-known/jwks.json",
                "auth_issuer": base,
                "auth_authorized_parties": origins,
                "auth_sign_in_url": f"{base}/sign-in",
                "clerk_webhook_signing_secret": secret,
            }
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
