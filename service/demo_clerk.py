"""The demo's sign-in: the Clerk stand-in as a child process, unless a real one is configured.

With AUTH_JWKS_URL or AUTH_JWT_KEY in the environment (a real Clerk instance) nothing is
started. Otherwise ``python -m service.emulator.clerk`` runs beside the service, sending
its Svix-signed user events to this service's /webhooks/clerk (production code never
imports it). It is started with the emulator, before the database, and awaited last.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import SecretStr

from service.child_process import child_process, wait_until_up
from service.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClerkChild:
    base: str
    webhook_secret: SecretStr
    origins: list[str]
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    """A port free now (0 asks for any); the stand-in binds it a moment later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def clerk_child(
    settings: Settings, own_url: str, origins: list[str], clerk_port: int
) -> Iterator[ClerkChild | None]:
    """The stand-in, started now and stopped on exit; None when a real Clerk is set."""
    if settings.auth_jwks_url or settings.auth_jwt_key:
        yield None
        return
    base = f"http://127.0.0.1:{clerk_port or _free_port()}"
    secret = settings.clerk_webhook_signing_secret
    if secret is None:  # Svix's format: whsec_ and base64 of the key
        secret = SecretStr("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    port = base.rsplit(":", 1)[1]
    command = [sys.executable, "-m", "service.emulator.clerk", "--port", port]
    command += ["--public-url", base, "--webhook-url", f"{own_url}/webhooks/clerk"]
    for origin in origins:
        command += ["--allowed-origin", origin]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["CLERK_STANDIN_WEBHOOK_SECRET"] = secret.get_secret_value()
    with child_process(command, env=env) as process:
        yield ClerkChild(base, secret, origins, process)


def sign_in_settings(settings: Settings, clerk: ClerkChild | None) -> Settings:
    """Settings that trust the stand-in (once it answers), or `settings` for a real Clerk."""
    if clerk is None:
        log.info("signed-in customers: using the configured identity provider")
        return settings
    jwks = f"{clerk.base}/.well-known/jwks.json"
    wait_until_up(jwks, clerk.process, "the Clerk stand-in", seconds=20)
    log.info("Clerk stand-in on %s", clerk.base)
    return settings.model_copy(
        update={
            "auth_jwks_url": jwks,
            "auth_issuer": clerk.base,
            "auth_authorized_parties": clerk.origins,
            "auth_sign_in_url": f"{clerk.base}/sign-in",
            "clerk_webhook_signing_secret": clerk.webhook_secret,
        }
    )
