"""An order token binds the customer: a browser pays as the customer its token names (or
as none), cannot name another, and never sets a customer's stored email or name."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import DB_POOL
from service.tokens import TokenError, issue_order_token, verify_order_token
from tests.support.api import API, Client
from tests.support.emulator import RunningEmulator
from tests.support.settings import make_settings
from tests.support.webhooks import emulator_call

ORDER_SECRET = "order-token-secret-0123456789abcdef0123"


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> Client:
    settings = make_settings(
        database_url, stripe_api_base=emulator.url, order_token_secret=ORDER_SECRET
    )
    return await aiohttp_client(create_app(settings))


def _token(order_id: str, customer: str | None = None, **claims: object) -> str:
    exp = int(time.time()) + 300
    secret = ORDER_SECRET.encode()
    return issue_order_token(
        secret, order_id, 2500, "usd", exp, customer=customer, extra_claims=claims
    )


async def _create(
    api: Client, headers: dict[str, str], order_id: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    payload = {"order_id": order_id, "amount": 2500, "currency": "usd", **body}
    response = await api.post("/api/payment-intents", json=payload, headers=headers)
    data: dict[str, Any] = await response.json()
    return response.status, data


async def _stored_customer(api: Client, external_id: str) -> dict[str, Any] | None:
    row = await api.app[DB_POOL].fetchrow(
        "SELECT email, name, stripe_customer_id FROM customers WHERE external_id = $1",
        external_id,
    )
    return dict(row) if row else None


async def _intent_customer(emulator: RunningEmulator, intent_id: str) -> str | None:
    _, intent = await emulator_call(
        emulator.url, emulator.secret_key, "GET", f"payment_intents/{intent_id}"
    )
    customer: str | None = intent["customer"]
    return customer


@pytest.fixture
async def victim(api: Client) -> str:
    """A customer the shop's backend created, with details only it may change."""
    external_id = f"victim-{uuid.uuid4()}"
    status, _ = await _create(
        api,
        API,
        f"order-{uuid.uuid4()}",
        customer={"external_id": external_id, "email": "victim@shop.example", "name": "Vic"},
    )
    assert status == 201
    return external_id


async def test_a_browser_cannot_name_another_customer(
    api: Client, victim: str, emulator: RunningEmulator
) -> None:
    order_id = f"order-{uuid.uuid4()}"
    before = await _stored_customer(api, victim)
    for token in (_token(order_id), _token(order_id, customer="mallory")):
        status, data = await _create(
            api,
            {"X-Order-Token": token},
            order_id,
            customer={"external_id": victim, "email": "mallory@evil.example"},
        )
        assert status == 403, data
        assert data["error"]["code"] == "customer_not_allowed"
    assert await _stored_customer(api, victim) == before


async def test_a_browser_never_changes_stored_details(api: Client, victim: str) -> None:
    order_id = f"order-{uuid.uuid4()}"
    before = await _stored_customer(api, victim)
    token = _token(order_id, customer=victim)
    for details in ({"email": "mallory@evil.example"}, {"name": "Mallory"}):
        status, data = await _create(
            api, {"X-Order-Token": token}, order_id, customer={"external_id": victim, **details}
        )
        assert status == 403, data
        assert data["error"]["code"] == "customer_details_not_allowed"
    assert await _stored_customer(api, victim) == before


async def test_the_token_s_customer_is_the_payer(
    api: Client, victim: str, emulator: RunningEmulator
) -> None:
    stored = await _stored_customer(api, victim)
    assert stored is not None
    # Named in the body or not, the payment goes on the token's customer.
    for body in ({"customer": {"external_id": victim}}, {}):
        order_id = f"order-{uuid.uuid4()}"
        token = _token(order_id, sub=victim)
        status, data = await _create(api, {"X-Order-Token": token}, order_id, **body)
        assert status == 201, data
        assert (
            await _intent_customer(emulator, data["payment_intent_id"])
            == (stored["stripe_customer_id"])
        )
    assert await _stored_customer(api, victim) == stored


async def test_a_token_without_a_customer_pays_as_none(
    api: Client, emulator: RunningEmulator
) -> None:
    order_id = f"order-{uuid.uuid4()}"
    status, data = await _create(api, {"X-Order-Token": _token(order_id)}, order_id)
    assert status == 201, data
    assert await _intent_customer(emulator, data["payment_intent_id"]) is None


async def test_an_api_key_still_sets_details(api: Client, victim: str) -> None:
    status, _ = await _create(
        api,
        API,
        f"order-{uuid.uuid4()}",
        customer={"external_id": victim, "email": "new@shop.example"},
    )
    assert status == 201
    stored = await _stored_customer(api, victim)
    assert stored is not None
    assert (stored["email"], stored["name"]) == ("new@shop.example", "Vic")


async def test_checkout_sessions_bind_the_customer_too(api: Client, victim: str) -> None:
    order_id = f"order-{uuid.uuid4()}"
    body = {
        "order_id": order_id,
        "currency": "usd",
        "line_items": [{"name": "Seat", "unit_amount": 2500, "quantity": 1}],
        "success_url": "https://shop.example/ok",
        "cancel_url": "https://shop.example/no",
        "customer": {"external_id": victim},
    }
    response = await api.post(
        "/api/checkout-sessions", json=body, headers={"X-Order-Token": _token(order_id)}
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "customer_not_allowed"


def test_customer_claim_is_one_string() -> None:
    secret = ORDER_SECRET.encode()
    now = int(time.time())
    both = issue_order_token(secret, "o", 1, "usd", now + 60, customer="c")
    assert verify_order_token(secret, both, now).customer == "c"
    sub = _token("o", sub="s")
    assert verify_order_token(secret, sub, now).customer == "s"
    for claims in ({"customer": "a", "sub": "b"}, {"customer": 7}, {"sub": ""}, {"sub": ["x"]}):
        bad = _token("o", **claims)
        with pytest.raises(TokenError) as info:
            verify_order_token(secret, bad, now)
        assert info.value.code == "token_invalid"
