"""The demo's sign-in: the Clerk stand-in as a child process, unless a real one is configured.

With AUTH_JWKS_URL or AUTH_JWT_KEY in the environment (a real Clerk instance) nothing is
started. Otherwise ``python -m service.emulator.clerk`` runs beside the service, sending
its Svix-signed user events to this service's /webhooks/clerk (production code never
imports it).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import Iterator

from pydantic import SecretStr

from service.child_process import running_child
from service.config import Settings

log = logging.getLogger(__name__)


def _free_port() -> int:
    """A port free now (0 asks for any); the stand-in binds it a moment later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def demo_sign_in(settings: Settings, own_url: str, clerk_port: int) -> Iterator[Settings]:
    if settings.auth_jwks_url or settings.auth_jwt_key:
        log.info("signed-in customers: using the configured identity provider")
        yield settings
        return
    base = f"http://127.0.0.1:{clerk_port or _free_port()}"
    origins = settings.allowed_redirect_origins
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
    ready = f"{base}/.well-known/jwks.json"
    with running_child(command, env=env, ready_url=ready, name="the Clerk stand-in"):
        log.info("Clerk stand-in on %s", base)
        yield settings.model_copy(
            update={
                "auth_jwks_url": ready,
                "auth_issuer": base,
                "auth_authorized_parties": origins,
                "auth_sign_in_url": f"{base}/sign-in",
                "clerk_webhook_signing_secret": secret,
            }
        )
