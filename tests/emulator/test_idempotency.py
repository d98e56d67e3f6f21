"""Idempotency keys: replay, parameter mismatch, request in flight."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import stripe
from stripe.params import PaymentIntentConfirmParams, PaymentIntentCreateParams

from service.emulator.idempotency import IdempotencyCache, Saved

from .conftest import Running, auth


async def test_replay_same_key_same_params(client: stripe.StripeClient, emulator: Running) -> None:
    params: PaymentIntentCreateParams = {"amount": 1000, "currency": "usd"}
    first = await client.v1.payment_intents.create_async(params, {"idempotency_key": "k-1"})
    second = await client.v1.payment_intents.create_async(params, {"idempotency_key": "k-1"})
    assert first.id == second.id
    assert second.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    listed = await client.v1.payment_intents.list_async()
    assert len(listed.data) == 1
    await emulator.handle.wait_idle()
    created = emulator.receiver.events[0]
    assert created["request"]["idempotency_key"] == "k-1"


async def test_card_error_is_replayed(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    params: PaymentIntentConfirmParams = {"payment_method": "pm_card_chargeDeclined"}
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as caught:
            await client.v1.payment_intents.confirm_async(pi.id, params, {"idempotency_key": "c-1"})
        errors.append(caught.value)
    assert errors[0].json_body == errors[1].json_body
    assert errors[1].headers is not None
    assert errors[1].headers.get("Idempotent-Replayed") == "true"
    charges = await client.v1.charges.list_async({"payment_intent": pi.id})
    assert len(charges.data) == 1


async def test_other_params_same_key(client: stripe.StripeClient) -> None:
    await client.v1.customers.create_async({"email": "a@example.com"}, {"idempotency_key": "k-2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        await client.v1.customers.create_async(
            {"email": "b@example.com"}, {"idempotency_key": "k-2"}
        )
    assert caught.value.http_status == 400
    assert caught.value.error is not None
    assert caught.value.error.type == "idempotency_error"


async def test_validation_errors_are_not_saved(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.create_async(
            {"amount": 0, "currency": "usd"}, {"idempotency_key": "k-3"}
        )
    # Nothing was stored for the key, so it is free for a corrected request.
    fixed = await client.v1.payment_intents.create_async(
        {"amount": 100, "currency": "usd"}, {"idempotency_key": "k-3"}
    )
    assert fixed.amount == 100


async def test_request_in_flight_conflicts(emulator: Running, http: aiohttp.ClientSession) -> None:
    emulator.handle.config.api_delay = 0.3
    url = f"{emulator.url}/v1/customers"
    headers = {**auth(), "Idempotency-Key": "k-4"}

    async def post() -> tuple[int, dict[str, object]]:
        async with http.post(url, data={"email": "x@example.com"}, headers=headers) as resp:
            return resp.status, await resp.json()

    first = asyncio.create_task(post())
    await asyncio.sleep(0.1)
    status, body = await post()
    assert status == 409
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "idempotency_key_in_use"
    first_status, first_body = await first
    assert first_status == 200
    replay_status, replay_body = await post()
    assert replay_status == 200
    assert replay_body["id"] == first_body["id"]


async def test_keys_expire(client: stripe.StripeClient, emulator: Running) -> None:
    emulator.handle.idempotency.ttl = 0.0
    one = await client.v1.customers.create_async({}, {"idempotency_key": "k-5"})
    await asyncio.sleep(0.01)
    two = await client.v1.customers.create_async({}, {"idempotency_key": "k-5"})
    assert one.id != two.id


def test_expiry_drops_the_oldest_keys_and_keeps_the_rest() -> None:
    """Keys leave in the order they were claimed, once older than the TTL; a live one and
    everything claimed after it stay (replayed, in flight or not yet expired)."""
    cache = IdempotencyCache(ttl=60.0)
    for key in ("a", "b", "c"):
        assert cache.begin(key, "POST /v1/customers []") is None
    cache.finish("a", Saved(200, b"{}", "req_a"))
    cache.finish("c", Saved(200, b"{}", "req_c"))
    long_ago = time.monotonic() - 120
    cache._entries["a"].created = long_ago
    cache._entries["b"].created = long_ago

    assert cache.begin("d", "POST /v1/customers []") is None  # expiry runs first

    assert list(cache._entries) == ["c", "d"]
    # Only the front is looked at (claims are in time order, so nothing behind a live key
    # can be older): what expiry costs a request is what it drops, not every key kept.
    cache._entries["d"].created = long_ago
    assert cache.begin("e", "POST /v1/customers []") is None
    assert list(cache._entries) == ["c", "d", "e"]
    assert cache.begin("a", "POST /v1/customers []") is None  # a new claim, not a replay
    saved = cache.begin("c", "POST /v1/customers []")
    assert saved is not None
    assert saved.request_id == "req_c"
