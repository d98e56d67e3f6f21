"""The demo's theatre backend: a real receiver the service delivers to over HTTP."""

from __future__ import annotations

import asyncio

from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import STORE
from tests.notifications.receiver import SECRET
from tests.support.payments import add_payment, change
from tests.support.processes import free_port
from tests.support.settings import make_settings


async def test_the_theatre_sells_the_seats_when_told_the_booking_is_paid(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    port = free_port()
    settings = make_settings(
        database_url,
        demo_page=True,
        merchant_webhook_urls=[f"http://127.0.0.1:{port}/theatre/webhooks/paylive"],
        merchant_webhook_secret=[SECRET],
        merchant_webhook_poll_seconds=0.1,
    )
    client = await aiohttp_client(create_app(settings), server_kwargs={"port": port})
    payment = await add_payment(client.app[STORE], {"seats": "B5 B6"})
    order_id = payment.order_id

    async def order() -> dict[str, object]:
        response = await client.get(f"/theatre/orders/{order_id}")
        assert response.status == 200
        body: dict[str, object] = await response.json()
        return body

    assert await order() == {"confirmed": False, "seats": []}
    await change(client.app[STORE], payment, "succeeded")
    for _ in range(200):  # delivered within milliseconds; up to 10 s on a busy machine
        if (await order())["confirmed"]:
            break
        await asyncio.sleep(0.05)
    assert await order() == {"confirmed": True, "seats": ["B5", "B6"]}
    # A forged delivery is refused by the theatre's verification.
    forged = await client.post(
        "/theatre/webhooks/paylive",
        data="{}",
        headers={"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,AA=="},
    )
    assert forged.status == 400
