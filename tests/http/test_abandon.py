"""POST /api/payments/{id}/abandon: the browser gives up its own open hosted Checkout."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from tests.support.api import API, Client, create_payment_intent
from tests.support.emulator import RunningEmulator
from tests.support.settings import make_settings


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> Client:
    settings = make_settings(
        database_url,
        stripe_api_base=emulator.url,
        allowed_redirect_origins=["https://shop.example"],
    )
    return await aiohttp_client(create_app(settings))


async def checkout(api: Client, order_id: str) -> dict[str, Any]:
    body = {
        "order_id": order_id,
        "currency": "eur",
        "line_items": [{"name": "Seat A1", "unit_amount": 4800, "quantity": 1}],
        "success_url": "https://shop.example/ok",
        "cancel_url": "https://shop.example/?checkout=canceled",
    }
    response = await api.post("/api/checkout-sessions", json=body, headers=API)
    data: dict[str, Any] = await response.json()
    assert response.status == 201, data
    return data


async def session_status(emulator: RunningEmulator, session_id: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{emulator.url}/v1/checkout/sessions/{session_id}",
            headers={"Authorization": f"Bearer {emulator.secret_key}"},
        ) as response,
    ):
        status: str = (await response.json())["status"]
        return status


async def test_abandon_frees_the_order_at_once(api: Client, emulator: RunningEmulator) -> None:
    order_id = f"order-{time.time_ns()}"
    made = await checkout(api, order_id)
    token = {"X-Status-Token": made["status_token"]}
    # While the hosted session is open, the order cannot be paid by card.
    card = {"order_id": order_id, "amount": 4800, "currency": "eur"}
    busy = await api.post("/api/payment-intents", json=card, headers=API)
    assert busy.status == 409
    assert (await busy.json())["error"]["code"] == "order_has_open_payment"

    response = await api.post(f"/api/payments/{made['payment_id']}/abandon", headers=token)
    body = await response.json()
    assert response.status == 200, body
    assert (body["status"], body["cancellation_reason"]) == ("canceled", "abandoned")
    assert await session_status(emulator, made["checkout_session_id"]) == "expired"
    # Abandoning twice is not an error.
    again = await api.post(f"/api/payments/{made['payment_id']}/abandon", headers=token)
    assert again.status == 200
    assert (await again.json())["status"] == "canceled"

    paid_by_card = await api.post("/api/payment-intents", json=card, headers=API)
    assert paid_by_card.status == 201, await paid_by_card.json()


async def test_who_may_abandon_what(api: Client) -> None:
    made = await checkout(api, f"order-{time.time_ns()}")
    path = f"/api/payments/{made['payment_id']}/abandon"
    bare = await api.post(path)
    assert bare.status == 401
    assert (await bare.json())["error"]["code"] == "credentials_required"
    # A change needs the token in a header, not in a link's query string.
    query = await api.post(f"{path}?token={made['status_token']}")
    assert query.status == 401
    other = await create_payment_intent(api)
    wrong = await api.post(path, headers={"X-Status-Token": other["status_token"]})
    assert wrong.status == 403
    # A card payment is the merchant's to cancel.
    card = await api.post(
        f"/api/payments/{other['payment_id']}/abandon",
        headers={"X-Status-Token": other["status_token"]},
    )
    assert card.status == 409
    assert (await card.json())["error"]["code"] == "payment_not_abandonable"
    missing = await api.post("/api/payments/not-a-uuid/abandon", headers={"X-Status-Token": "x"})
    assert missing.status == 404
