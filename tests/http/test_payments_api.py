"""The payments API end to end: the real service, a real database, the Stripe emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.tokens import issue_order_token
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
        database_url,
        stripe_api_base=emulator.url,
        order_token_secret=ORDER_SECRET,
        allowed_redirect_origins=["https://shop.example"],
    )
    return await aiohttp_client(create_app(settings))


_orders = iter(range(10**6))


def order() -> str:
    return f"order-{time.time_ns()}-{next(_orders)}"


async def create(
    api: Client, status: int = 201, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    payload = {"order_id": order(), "amount": 2500, "currency": "usd", **body}
    response = await api.post("/api/payment-intents", json=payload, headers=headers or API)
    data: dict[str, Any] = await response.json()
    assert response.status == status, data
    return data


async def stripe_get(emulator: RunningEmulator, path: str) -> dict[str, Any]:
    _, data = await emulator_call(emulator.url, emulator.secret_key, "GET", path)
    return data


async def test_create_payment_intent(api: Client, emulator: RunningEmulator) -> None:
    data = await create(
        api,
        metadata={"seat": "A12"},
        description="2 seats",
        customer={"external_id": "cus-ext-1", "email": "a@b.example"},
    )
    assert data["status"] == "requires_payment_method"
    assert data["version"] == 1
    assert data["amount"] == 2500
    assert data["currency"] == "usd"
    assert data["client_secret"].startswith(data["payment_intent_id"] + "_secret_")
    assert data["status_token"]
    intent = await stripe_get(emulator, f"payment_intents/{data['payment_intent_id']}")
    assert intent["amount"] == 2500
    assert intent["metadata"]["paylive_payment_id"] == data["payment_id"]
    assert intent["metadata"]["seat"] == "A12"
    assert intent["customer"].startswith("cus_")


async def test_customer_created_once_per_external_id(
    api: Client, emulator: RunningEmulator
) -> None:
    first = await create(api, customer={"external_id": "repeat-customer"})
    second = await create(api, customer={"external_id": "repeat-customer", "name": "Ann"})
    a = await stripe_get(emulator, f"payment_intents/{first['payment_intent_id']}")
    b = await stripe_get(emulator, f"payment_intents/{second['payment_intent_id']}")
    assert a["customer"] == b["customer"]


async def test_booking_id_alias_and_string_amount(api: Client) -> None:
    payload = {"booking_id": order(), "amount": "1999", "currency": "EUR"}
    response = await api.post("/api/payment-intents", json=payload, headers=API)
    data = await response.json()
    assert response.status == 201, data
    assert (data["amount"], data["currency"]) == (1999, "eur")


async def test_open_payment_reused_and_conflicts(api: Client) -> None:
    order_id = order()
    first = await create(api, order_id=order_id)
    again = await create(api, status=200, order_id=order_id)
    assert again["payment_id"] == first["payment_id"]
    assert again["client_secret"] == first["client_secret"]
    other = await create(api, status=409, order_id=order_id, amount=3000)
    assert other["error"]["code"] == "order_has_open_payment"
    assert other["error"]["details"]["payment_id"] == first["payment_id"]


async def test_concurrent_creates_for_one_order_make_one_payment(
    api: Client, emulator: RunningEmulator
) -> None:
    order_id = order()
    payload = {"order_id": order_id, "amount": 1500, "currency": "usd"}
    responses = await asyncio.gather(
        *(api.post("/api/payment-intents", json=payload, headers=API) for _ in range(8))
    )
    bodies = [await r.json() for r in responses]
    assert sorted(r.status for r in responses) == [200] * 7 + [201]
    assert len({b["payment_id"] for b in bodies}) == 1
    assert len({b["payment_intent_id"] for b in bodies}) == 1
    listing = await stripe_get(emulator, "payment_intents?limit=100")
    ours = [pi for pi in listing["data"] if pi["metadata"].get("order_id") == order_id]
    assert len(ours) == 1


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        (49, "usd", "amount_too_small"),
        (29, "gbp", "amount_too_small"),
        (100_000_000, "usd", "amount_too_large"),
        (1005, "kwd", "invalid_amount_for_currency"),
        (150, "isk", "invalid_amount_for_currency"),
        (1000, "xyz", "invalid_currency"),
    ],
)
async def test_money_rules_before_stripe(
    api: Client, emulator: RunningEmulator, amount: int, currency: str, code: str
) -> None:
    before = len((await stripe_get(emulator, "payment_intents?limit=100"))["data"])
    data = await create(api, status=422, amount=amount, currency=currency)
    assert data["error"]["code"] == code
    assert len((await stripe_get(emulator, "payment_intents?limit=100"))["data"]) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 12.5}, "amount"),
        ({"amount": "12.50"}, "amount"),
        ({"amount": True}, "amount"),
        ({"currency": "usdx"}, "currency"),
        ({"order_id": ""}, "order_id"),
        ({"metadata": {f"k{i}": "v" for i in range(49)}}, "metadata"),
        ({"metadata": {"k" * 41: "v"}}, "metadata"),
        ({"metadata": {"paylive_x": "v"}}, "metadata"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_bodies_are_422_with_the_field(
    api: Client, body: dict[str, Any], field: str
) -> None:
    data = await create(api, status=422, **body)
    assert data["error"]["code"] == "validation_failed"
    assert any(e["field"].startswith(field) for e in data["error"]["details"]["errors"])


async def test_not_json_is_422(api: Client) -> None:
    response = await api.post("/api/payment-intents", data=b"amount=1", headers=API)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "invalid_json"


async def test_who_may_create(api: Client) -> None:
    order_id = order()
    body = {"order_id": order_id, "amount": 2500, "currency": "usd"}
    none = await api.post("/api/payment-intents", json=body)
    assert none.status == 401
    assert (await none.json())["error"]["code"] == "credentials_required"
    wrong = await api.post(
        "/api/payment-intents", json=body, headers={"Authorization": "Bearer not-a-key-at-all-000"}
    )
    assert wrong.status == 401

    exp = int(time.time()) + 300
    token = issue_order_token(ORDER_SECRET.encode(), order_id, 2500, "usd", exp)
    ok = await api.post("/api/payment-intents", json=body, headers={"X-Order-Token": token})
    assert ok.status == 201, await ok.json()
    cheaper = {**body, "amount": 100}
    tampered = await api.post(
        "/api/payment-intents", json=cheaper, headers={"X-Order-Token": token}
    )
    assert tampered.status == 403
    assert (await tampered.json())["error"]["code"] == "order_token_mismatch"


async def test_reads_with_status_token_or_api_key(api: Client) -> None:
    data = await create(api)
    other = await create(api)
    url = f"/api/payments/{data['payment_id']}"
    by_token = await api.get(url, headers={"X-Status-Token": data["status_token"]})
    assert by_token.status == 200
    payment = await by_token.json()
    assert payment["status"] == "requires_payment_method"
    assert payment["payment_intent_id"] == data["payment_intent_id"]
    assert (await api.get(url, headers=API)).status == 200
    assert (await api.get(url + f"?token={data['status_token']}")).status == 200
    wrong = await api.get(url, headers={"X-Status-Token": other["status_token"]})
    assert wrong.status == 403
    assert (await api.get(url)).status == 401
    assert (await api.get(url, headers={"X-Status-Token": "garbage"})).status == 401
    missing = await api.get("/api/payments/00000000-0000-0000-0000-000000000000", headers=API)
    assert missing.status == 404
    assert (await api.get("/api/payments/not-a-uuid", headers=API)).status == 404

    timeline = await (await api.get(url + "/timeline", headers=API)).json()
    assert [(e["version"], e["kind"]) for e in timeline["data"]] == [(1, "created")]
    attempts = await (await api.get(url + "/attempts", headers=API)).json()
    assert attempts == {"data": []}


async def test_list_by_order_with_pagination(api: Client) -> None:
    order_id = order()
    ids = []
    for _ in range(3):
        made = await create(api, order_id=order_id)
        ids.append(made["payment_id"])
        assert (
            await api.post(f"/api/payments/{made['payment_id']}/cancel", headers=API)
        ).status == 200
    assert (await api.get(f"/api/payments?order_id={order_id}")).status == 401
    page1 = await (await api.get(f"/api/payments?order_id={order_id}&limit=2", headers=API)).json()
    assert page1["has_more"] is True
    page2 = await (
        await api.get(
            f"/api/payments?order_id={order_id}&limit=2&cursor={page1['next_cursor']}", headers=API
        )
    ).json()
    assert page2["has_more"] is False
    listed = [p["payment_id"] for p in page1["data"] + page2["data"]]
    assert listed == list(reversed(ids))
    bad = await api.get("/api/payments?limit=1000", headers=API)
    assert bad.status == 422


async def test_cancel(api: Client, emulator: RunningEmulator) -> None:
    data = await create(api)
    url = f"/api/payments/{data['payment_id']}/cancel"
    assert (await api.post(url)).status == 401
    response = await api.post(url, json={"reason": "abandoned"}, headers=API)
    payment = await response.json()
    assert response.status == 200, payment
    assert (payment["status"], payment["version"]) == ("canceled", 2)
    assert payment["cancellation_reason"] == "abandoned"
    intent = await stripe_get(emulator, f"payment_intents/{data['payment_intent_id']}")
    assert intent["status"] == "canceled"
    again = await api.post(url, headers=API)
    assert (await again.json())["version"] == 2
    # The order is free again for a new payment.
    await create(api, order_id=payment["order_id"])


async def test_refund_needs_a_succeeded_payment(api: Client) -> None:
    data = await create(api)
    response = await api.post(f"/api/payments/{data['payment_id']}/refunds", json={}, headers=API)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "payment_not_refundable"


async def test_checkout_session(api: Client, emulator: RunningEmulator) -> None:
    body = {
        "order_id": order(),
        "currency": "usd",
        "line_items": [{"name": "Seat A1", "unit_amount": 1500, "quantity": 2}],
        "success_url": "https://shop.example/ok?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cancel",
    }
    response = await api.post("/api/checkout-sessions", json=body, headers=API)
    data = await response.json()
    assert response.status == 201, data
    assert data["url"].startswith(emulator.url)
    assert data["checkout_session_id"].startswith("cs_")
    session = await stripe_get(emulator, f"checkout/sessions/{data['checkout_session_id']}")
    assert session["amount_total"] == 3000
    assert session["client_reference_id"] == body["order_id"]
    assert session["expires_at"] - int(time.time()) in range(29 * 60, 30 * 60 + 5)

    # Cancelling a hosted-Checkout payment expires its session at Stripe.
    cancel = await api.post(f"/api/payments/{data['payment_id']}/cancel", headers=API)
    canceled = await cancel.json()
    assert cancel.status == 200, canceled
    assert canceled["status"] == "canceled"
    session = await stripe_get(emulator, f"checkout/sessions/{data['checkout_session_id']}")
    assert session["status"] == "expired"

    evil = {**body, "order_id": order(), "success_url": "https://evil.example/ok"}
    refused = await api.post("/api/checkout-sessions", json=evil, headers=API)
    assert refused.status == 422
    assert (await refused.json())["error"]["code"] == "redirect_not_allowed"
    short = {**body, "order_id": order(), "expires_in_minutes": 5}
    assert (await api.post("/api/checkout-sessions", json=short, headers=API)).status == 422


async def test_stripe_down_is_503_and_retry_makes_one_intent(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    down = await aiohttp_client(
        create_app(
            make_settings(database_url, stripe_max_network_retries=0, stripe_timeout_seconds=2)
        )
    )
    order_id = order()
    body = {"order_id": order_id, "amount": 2500, "currency": "usd"}
    failed = await down.post("/api/payment-intents", json=body, headers=API)
    assert failed.status == 503
    assert (await failed.json())["error"]["code"] == "stripe_unavailable"

    up = await aiohttp_client(create_app(make_settings(database_url, stripe_api_base=emulator.url)))
    retried = await up.post("/api/payment-intents", json=body, headers=API)
    data = await retried.json()
    # The row written before the failed call is reused, so the order has one payment.
    assert retried.status == 200, data
    listing = await (await up.get(f"/api/payments?order_id={order_id}", headers=API)).json()
    assert [p["payment_id"] for p in listing["data"]] == [data["payment_id"]]
