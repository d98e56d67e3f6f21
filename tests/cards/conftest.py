"""A service with session tokens, the Stripe emulator and webhooks, and saved-card helpers."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.tokens import issue_order_token
from tests.identity.conftest import KEY, ORDER_SECRET
from tests.identity.conftest import fresh_user as fresh_user
from tests.identity.conftest import session as session
from tests.support.api import API, Client
from tests.support.emulator import RunningEmulator
from tests.support.session_keys import ISSUER, PARTY, JwksServer, running_jwks
from tests.support.settings import make_settings
from tests.support.webhooks import WEBHOOK_SECRET, emulator_call, post_event

SHOP = "https://shop.example"
MERCHANT = "http://127.0.0.1:9/hooks"
MERCHANT_SECRET = "whsec_" + base64.b64encode(b"merchant-secret-for-card-tests!!").decode()


@pytest.fixture
async def jwks() -> AsyncIterator[JwksServer]:
    async with running_jwks([KEY]) as server:
        yield server


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, jwks: JwksServer, emulator: RunningEmulator
) -> Client:
    settings = make_settings(
        database_url,
        stripe_api_base=emulator.url,
        stripe_webhook_secrets=[WEBHOOK_SECRET],
        auth_jwks_url=jwks.url,
        auth_issuer=ISSUER,
        auth_authorized_parties=[PARTY],
        order_token_secret=ORDER_SECRET,
        allowed_redirect_origins=[SHOP],
        # Merchant notifications on (the outbox is written); nothing listens there.
        merchant_webhook_urls=[MERCHANT],
        merchant_webhook_secret=[MERCHANT_SECRET],
    )
    return await aiohttp_client(create_app(settings))


def session_cookie(user: str) -> dict[str, str]:
    """The session as the browser sends it beside an order token: Clerk's cookie."""
    return {"Cookie": f"__session={KEY.token(sub=user, iss=ISSUER, azp=PARTY)}"}


async def stripe(
    emulator: RunningEmulator, method: str, path: str, form: dict[str, str] | None = None
) -> dict[str, Any]:
    status, body = await emulator_call(emulator.url, emulator.secret_key, method, path, form)
    assert status == 200, body
    return body


async def pay_as(
    api: Client, user: str | None, *, save_card: bool = False, **extra: Any
) -> dict[str, Any]:
    """``POST /api/payment-intents`` for a fresh order; the 201 answer. A signed-in `user`
    pays as a browser does (session cookie and an order token from the merchant's
    backend); None: the merchant's backend with its API key."""
    order_id = f"order-{uuid.uuid4()}"
    body = {"order_id": order_id, "amount": 2500, "currency": "usd", **extra}
    headers = API
    if user is not None:
        token = issue_order_token(
            ORDER_SECRET.encode(), order_id, 2500, "usd", int(time.time()) + 300
        )
        headers = {**session_cookie(user), "X-Order-Token": token}
    if save_card:
        body["save_card"] = True
    response = await api.post("/api/payment-intents", json=body, headers=headers)
    data: dict[str, Any] = await response.json()
    assert response.status == 201, data
    return data


async def stripe_customer(api: Client, emulator: RunningEmulator, user: str) -> str:
    """The user's Stripe Customer (made by a first payment as that customer)."""
    await pay_as(api, None, customer={"external_id": user})
    found = [
        c["id"]
        for c in emulator.handle.store.newest_first("customer")
        if c["metadata"].get("external_id") == user
    ]
    assert len(found) == 1
    return str(found[0])


async def save_card(
    emulator: RunningEmulator, customer: str, number: str = "4242424242424242"
) -> str:
    """A card saved on the Stripe Customer (as an earlier payment or SetupIntent would)."""
    form = {"type": "card", "card[number]": number, "card[exp_month]": "12"}
    pm = await stripe(emulator, "POST", "payment_methods", {**form, "card[exp_year]": "2034"})
    await stripe(emulator, "POST", f"payment_methods/{pm['id']}/attach", {"customer": customer})
    return str(pm["id"])


async def deliver_all(api: Client, emulator: RunningEmulator) -> None:
    """Every event the emulator made so far, to the service's webhook (repeats are no-ops)."""
    await emulator.handle.wait_idle()
    for event in emulator.handle.events():
        status, body = await post_event(api, event)
        assert status == 200, body


async def my_cards(api: Client, user: str) -> list[dict[str, Any]]:
    response = await api.get("/api/me/payment-methods", headers=session(user))
    body = await response.json()
    assert response.status == 200, body
    return list(body["data"])
