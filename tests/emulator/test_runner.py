"""`serve_emulator`: the in-process runner the service's tests and demo can use."""

from __future__ import annotations

import aiohttp
import stripe

from service.emulator import EmulatorConfig, serve_emulator

from .conftest import SECRET_KEY, Receiver, close_http


async def test_serve_emulator_on_a_free_port(receiver: Receiver) -> None:
    config = EmulatorConfig(webhook_url=receiver.url)
    async with serve_emulator(config) as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert not running.url.endswith(":0")
        assert running.handle.webhook_secret is not None
        assert running.handle.webhook_secret.startswith("whsec_")
        receiver.secret = running.handle.webhook_secret
        http_client = stripe.AIOHTTPClient()
        client = stripe.StripeClient(
            SECRET_KEY, base_addresses={"api": running.url}, http_client=http_client
        )
        try:
            customer = await client.v1.customers.create_async({"email": "r@example.com"})
        finally:
            await close_http(http_client)
        await running.handle.wait_idle()
        assert receiver.types() == ["customer.created"]
        assert receiver.events[0]["data"]["object"]["id"] == customer.id
    async with aiohttp.ClientSession() as http:
        try:
            async with http.get(running.url + "/v3/") as resp:
                status: int | None = resp.status
        except aiohttp.ClientConnectionError:
            status = None
    assert status is None  # stopped
