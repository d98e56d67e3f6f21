"""Stripe's wire format: auth, errors, request ids, CORS, unknown URLs."""

from __future__ import annotations

import base64

import aiohttp
import pytest
import stripe

from .conftest import PUBLISHABLE_KEY, Running, auth, close_http


async def test_missing_and_bad_keys(emulator: Running, http: aiohttp.ClientSession) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer sk_live_nope_1234"},
        {"Authorization": "Basic x"},
    ):
        async with http.get(f"{emulator.url}/v1/customers", headers=headers) as resp:
            body = await resp.json()
        assert resp.status == 401
        assert body["error"]["type"] == "invalid_request_error"
        assert resp.headers["Request-Id"].startswith("req_")


async def test_basic_auth_like_curl(emulator: Running, http: aiohttp.ClientSession) -> None:
    token = base64.b64encode(b"sk_test_curl:").decode()
    basic = {"Authorization": f"Basic {token}"}
    async with http.get(f"{emulator.url}/v1/customers", headers=basic) as resp:
        assert resp.status == 200
        assert (await resp.json())["object"] == "list"


async def test_publishable_key_only_where_stripe_accepts_it(
    emulator: Running, http: aiohttp.ClientSession
) -> None:
    pk = auth(PUBLISHABLE_KEY)
    async with http.get(f"{emulator.url}/v1/customers", headers=pk) as resp:
        assert resp.status == 401
    async with http.post(
        f"{emulator.url}/v1/payment_intents", data={"amount": "100", "currency": "usd"}, headers=pk
    ) as resp:
        assert resp.status == 401
    async with http.post(
        f"{emulator.url}/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "1",
            "card[exp_year]": "2030",
        },
        headers=pk,
    ) as resp:
        assert resp.status == 200


async def test_authentication_error_class(emulator: Running) -> None:
    http_client = stripe.AIOHTTPClient()
    bad = stripe.StripeClient(
        "sk_live_wrong", base_addresses={"api": emulator.url}, http_client=http_client
    )
    try:
        with pytest.raises(stripe.AuthenticationError):
            await bad.v1.customers.list_async()
    finally:
        await close_http(http_client)


async def test_unknown_url_and_request_id_everywhere(
    emulator: Running, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{emulator.url}/v1/nothing_here", headers=auth()) as resp:
        body = await resp.json()
    assert resp.status == 404
    assert body["error"]["message"].startswith("Unrecognized request URL (GET: /v1/nothing_here)")
    async with http.get(f"{emulator.url}/v3/") as resp:
        assert resp.headers["Request-Id"].startswith("req_")
    async with http.get(f"{emulator.url}/no/such/page") as resp:
        assert resp.status == 404
        assert resp.headers["Request-Id"].startswith("req_")


async def test_resource_missing_shape(emulator: Running, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emulator.url}/v1/charges/ch_missing", headers=auth()) as resp:
        body = await resp.json()
    assert resp.status == 404
    error = body["error"]
    assert error["code"] == "resource_missing"
    assert error["message"] == "No such charge: 'ch_missing'"
    assert error["doc_url"] == "https://stripe.com/docs/error-codes/resource-missing"
    assert error["request_log_url"].endswith(resp.headers["Request-Id"])


async def test_cors_preflight_and_headers(emulator: Running, http: aiohttp.ClientSession) -> None:
    async with http.options(
        f"{emulator.url}/v1/payment_intents/pi_1/confirm",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    ) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    async with http.get(
        f"{emulator.url}/v1/payment_intents/pi_1", headers={**auth(), "Origin": "http://x"}
    ) as resp:
        assert resp.status == 404
        assert resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_invalid_parameter_names(emulator: Running, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{emulator.url}/v1/customers", data={"metadata[a": "1"}, headers=auth()
    ) as resp:
        assert resp.status == 400
    async with http.get(
        f"{emulator.url}/v1/customers", params={"limit": "1000"}, headers=auth()
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["param"] == "limit"
