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
import shutil
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from service import demo_theatre as theatre
from service.child_process import child_process, wait_until_up
from service.config import Settings
from service.demo_clerk import ClerkChild, clerk_child

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


def page_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens: a wildcard bind is reached by loopback."""
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _listening_socket(port: int) -> socket.socket:
    """The emulator's socket, bound here (0: any free port) so its real port is known
    before the child starts, without a race for it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"the Stripe emulator cannot listen on port {port}: {exc}") from None
    sock.set_inheritable(True)
    return sock


@dataclass(frozen=True)
class EmulatorChild:
    api_base: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def emulator_child(port: int) -> Iterator[EmulatorChild]:
    """The Stripe emulator in a child process, stopped on exit. Started before the database,
    so the two start-ups overlap; `demo_settings` waits for it."""
    with _listening_socket(port) as sock:  # the child accepts on its inherited copy
        api_base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        command = [sys.executable, "-m", "service.emulator", "--listen-fd", str(sock.fileno())]
        command += ["--public-url", api_base]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with child_process(command, env=env, pass_fds=(sock.fileno(),)) as process:
            yield EmulatorChild(api_base, process)


@dataclass(frozen=True)
class DemoChildren:
    emulator: EmulatorChild | None  # None: Stripe's test mode, keys from the environment
    clerk: ClerkChild | None  # None: a real Clerk is configured


@contextlib.contextmanager
def demo_children(
    settings: Settings,
    host: str | None,
    port: int | None,
    emulator_port: int | None,
    clerk_port: int,
) -> Iterator[DemoChildren]:
    """The emulator and the Clerk stand-in, both started now (neither awaited), stopped on
    exit: their start-ups overlap each other's and the database's."""
    host, port = host or settings.host, port or settings.port
    with contextlib.ExitStack() as stack:
        emulator = None
        if settings.stripe_secret_key is None:
            chosen = settings.emulator_port if emulator_port is None else emulator_port
            emulator = stack.enter_context(emulator_child(chosen))
        origins = demo_origins(settings, host, port)
        clerk = stack.enter_context(
            clerk_child(settings, page_url(host, port), origins, clerk_port)
        )
        yield DemoChildren(emulator, clerk)


def demo_origins(settings: Settings, host: str, port: int) -> list[str]:
    """The redirect origins the demo allows: the configured ones and its own page's, by
    either loopback name (or the host's own name)."""
    names = {"127.0.0.1", "localhost"} | ({host} if host not in _ANY_ADDRESS else set())
    origins = {page_url(name, port) for name in names}
    return sorted({*settings.allowed_redirect_origins, *origins})


@contextlib.contextmanager
def demo_settings(
    settings: Settings, host: str, port: int, emulator: EmulatorChild | None
) -> Iterator[Settings]:
    """Settings for the demo: with the emulator (once it answers), or with Stripe's test
    mode when the environment has keys (then ``emulator`` is None)."""
    own = page_url(host, port)
    demo = {
        "allow_anonymous_create": True,
        "demo_page": True,
        "allowed_redirect_origins": demo_origins(settings, host, port),
        "status_token_secret": settings.status_token_secret or SecretStr(secrets.token_hex(32)),
        # The theatre's backend hears of payments as any merchant would (issue 16).
        "merchant_webhook_urls": [
            *settings.merchant_webhook_urls,
            f"{own}{theatre.PREFIX}{theatre.WEBHOOK_PATH}",
        ],
        "merchant_webhook_secret": settings.merchant_webhook_secret
        or [SecretStr("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())],
        # One visitor's clicks need no delivery process: the page is up a process start
        # sooner (make run's first-page time).
        "merchant_webhook_delivery": "inline",
    }
    if emulator is None:
        log.info("using Stripe test mode with the keys from the environment")
        yield settings.model_copy(update=demo)
        return
    api_base = emulator.api_base
    wait_until_up(f"{api_base}/v3/", emulator.process, "the Stripe emulator")
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


def reset_demo_data(data_dir: Path) -> tuple[bool, str]:
    """Delete the demo's PostgreSQL folder unless a server is running on it; (done, why)."""
    if not data_dir.exists():
        return True, f"nothing to reset: {data_dir} does not exist"
    if any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        return False, f"{data_dir} is not a PostgreSQL data folder; left alone"
    if _server_running(data_dir):
        return False, f"PostgreSQL is running on {data_dir}: stop the demo (Ctrl-C) first"
    try:
        shutil.rmtree(data_dir)
    except PermissionError:
        return False, f"{data_dir} belongs to another user: run `sudo make reset`"
    return True, f"deleted the demo's data: {data_dir}"


def _server_running(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's (postgres's) process
    return True
