"""`python -m service.emulator` serves the API and delivers signed webhooks."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator

import pytest
import stripe

from .conftest import SECRET_KEY, Receiver, close_http


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def standalone(receiver: Receiver) -> AsyncIterator[str]:
    port = _free_port()
    receiver.secret = "whsec_cli_test_secret"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.emulator",
        "--port",
        str(port),
        "--webhook-url",
        receiver.url,
        "--webhook-secret",
        receiver.secret,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def test_standalone_process(standalone: str, receiver: Receiver) -> None:
    http_client = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": standalone}, http_client=http_client
    )
    try:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
        )
        assert pi.status == "succeeded"
    finally:
        await close_http(http_client)
    for _ in range(100):
        if len(receiver.events) == 3:
            break
        await asyncio.sleep(0.05)
    assert receiver.rejected == 0
    assert sorted(receiver.types()) == sorted(
        ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    )
