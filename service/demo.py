"""`python -m service demo`: the zero-config demo behind `make run`.

Without STRIPE_SECRET_KEY it starts the Stripe emulator as a child process (production
code never imports the emulator), registers this service's webhook endpoint with it, and
serves the service together with the demo page. With Stripe test keys in the environment
it uses Stripe itself; webhooks then need `stripe listen --forward-to …/webhooks/stripe`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

from pydantic import SecretStr

from service import demo_theatre as theatre
from service.config import Settings

log = logging.getLogger(__name__)

EMULATOR_SECRET_KEY = "sk_test_paylive_demo"  # noqa: S105 - the local emulator accepts any
EMULATOR_PUBLISHABLE_KEY = "pk_test_paylive_demo"
_ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 - recognised, not bound

TEST_CARDS = """Test cards (any future expiry, any CVC):
  4242 4242 4242 4242  succeeds
  4000 0000 0000 0002  declined (generic)
  4000 0000 0000 9995  declined (insufficient funds)
  4000 0027 6000 3184  3-D Secure: complete or fail the challenge
  4000 0000 0000 8880  goes through 'processing', then succeeds (emulator only)"""


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Stripe emulator exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}/v3/", timeout=1).close()  # noqa: S310 - local
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError("the Stripe emulator did not start in time")


def _register_webhook(api_base: str, endpoint_url: str) -> str:
    """Create the webhook endpoint at the (emulated) Stripe; returns its signing secret."""
    body = urllib.parse.urlencode({"url": endpoint_url, "enabled_events[]": "*"}).encode()
    request = urllib.request.Request(  # noqa: S310 - the local emulator
        f"{api_base}/v1/webhook_endpoints",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {EMULATOR_SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        secret: str = json.load(response)["secret"]
    return secret


@contextlib.contextmanager
def demo_settings(
    settings: Settings, host: str, port: int, emulator_port: int
) -> Iterator[Settings]:
    """Settings for the demo, with the emulator running for as long as the context."""
    own = f"http://{host}:{port}"
    # The page may be opened by either loopback name (or the host's own name).
    names = {"127.0.0.1", "localhost"} | ({host} if host not in _ANY_ADDRESS else set())
    origins = {f"http://{name}:{port}" for name in names}
    if host in _ANY_ADDRESS:
        own = f"http://127.0.0.1:{port}"
    demo = {
        "allow_anonymous_create": True,
        "demo_page": True,
        "allowed_redirect_origins": sorted({*settings.allowed_redirect_origins, *origins}),
        "status_token_secret": settings.status_token_secret or SecretStr(secrets.token_hex(32)),
        # The theatre's backend hears of payments as any merchant would (issue 16).
        "merchant_webhook_urls": [
            *settings.merchant_webhook_urls,
            f"{own}{theatre.PREFIX}{theatre.WEBHOOK_PATH}",
        ],
        "merchant_webhook_secret": settings.merchant_webhook_secret
        or [SecretStr("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())],
    }
    if settings.stripe_secret_key is not None:
        log.info("using Stripe test mode with the keys from the environment")
        yield settings.model_copy(update=demo)
        return
    api_base = f"http://127.0.0.1:{emulator_port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.emulator",
            "--port",
            str(emulator_port),
            "--public-url",
            api_base,
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_until_up(api_base, process)
        secret = _register_webhook(api_base, f"{own}/webhooks/stripe")
        log.info("Stripe emulator on %s; webhook endpoint registered", api_base)
        yield settings.model_copy(
            update={
                **demo,
                "stripe_secret_key": SecretStr(EMULATOR_SECRET_KEY),
                "stripe_publishable_key": EMULATOR_PUBLISHABLE_KEY,
                "stripe_api_base": api_base,
                "stripe_js_url": f"{api_base}/v3/",
                "stripe_webhook_secrets": [SecretStr(secret)],
            }
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
