"""What many tests do the same way: call the service's API as a backend, and confirm a
PaymentIntent at the emulator as a browser would."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.support.emulator import RunningEmulator
from tests.support.settings import TEST_API_KEY
from tests.support.webhooks import emulator_call

API = {"Authorization": f"Bearer {TEST_API_KEY}"}
SHOP = "https://shop.example"  # an allowed redirect origin in the tests that need one
Client = TestClient[web.Request, web.Application]


async def create_payment_intent(api: Client, amount: int = 2500) -> dict[str, Any]:
    """``POST /api/payment-intents`` for a fresh order; the 201 answer."""
    body = {"order_id": f"order-{uuid.uuid4()}", "amount": amount, "currency": "usd"}
    response = await api.post("/api/payment-intents", json=body, headers=API)
    data: dict[str, Any] = await response.json()
    assert response.status == 201, data
    return data


async def create_checkout(api: Client) -> dict[str, Any]:
    """``POST /api/checkout-sessions`` for two 15.00 USD seats; the 201 answer."""
    body = {
        "order_id": f"order-{uuid.uuid4()}",
        "currency": "usd",
        "line_items": [{"name": "Seat", "unit_amount": 1500, "quantity": 2}],
        "success_url": f"{SHOP}/ok",
        "cancel_url": f"{SHOP}/cancel",
    }
    response = await api.post("/api/checkout-sessions", json=body, headers=API)
    data: dict[str, Any] = await response.json()
    assert response.status == 201, data
    return data


async def confirm_intent(emulator: RunningEmulator, pi_id: str, pm: str) -> dict[str, Any]:
    """Confirm at the emulator with a test payment method; its answer (or error) body."""
    _, data = await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        f"payment_intents/{pi_id}/confirm",
        {"payment_method": pm},
    )
    return data
