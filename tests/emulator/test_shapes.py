"""Emulator objects carry the top-level fields of Stripe's own examples (fixtures3.json,
read from `<project root>/../shared/stripe`; the test fails saying so when it is missing).

A field whose example value is not null must have the same JSON type, or be null where
Stripe's API documents the field as nullable (listed below per kind).
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
import stripe

from tests.support.stripe_spec import load_stripe_fixtures

from .conftest import Running, auth

# Fields Stripe's API reference marks nullable, where the example happens to be non-null.
NULLABLE: dict[str, set[str]] = {
    "payment_intent": {
        "automatic_payment_methods",
        "canceled_at",
        "last_payment_error",
        "next_action",
        "payment_method_configuration_details",
        "processing",
        "shipping",
        "transfer_data",
        "managed_payments",
    },
    "charge": {
        "balance_transaction",
        "description",
        "shipping",
        "transfer_data",
        "source",
        "receipt_url",
    },
    "refund": set(),
    "customer": {"address", "currency", "discount", "shipping"},
    "payment_method": set(),
    "checkout.session": {
        "after_expiration",
        "consent",
        "consent_collection",
        "currency_conversion",
        "customer_details",
        "invoice_creation",
        "payment_intent",  # until the customer pays (Stripe's spec: nullable)
        "payment_method_configuration_details",
        "saved_payment_method_options",
        "shipping_address_collection",
        "shipping_cost",
        "url",
        "wallet_options",
        "permissions",
        "collected_information",
        "managed_payments",
    },
    "setup_intent": {
        "automatic_payment_methods",
        "last_setup_error",
        "next_action",
        "payment_method_configuration_details",
    },
    "event": set(),
    "webhook_endpoint": set(),
    "item": {"adjustable_quantity"},
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return type(value).__name__


def assert_shape(kind: str, samples: list[dict[str, Any]]) -> None:
    example = load_stripe_fixtures()[kind]
    for sample in samples:
        assert sample["object"] == example["object"]
        missing = set(example) - set(sample)
        assert not missing, f"{kind} lacks {sorted(missing)}"
        for key, expected in example.items():
            value = sample[key]
            if expected is None:
                continue
            if value is None:
                assert key in NULLABLE[kind], f"{kind}.{key} is null"
                continue
            assert _json_type(value) == _json_type(expected), f"{kind}.{key}: {value!r}"


async def _get(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url, headers=auth()) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


async def _post(http: aiohttp.ClientSession, url: str, data: dict[str, str]) -> dict[str, Any]:
    async with http.post(url, data=data, headers=auth()) as resp:
        body: dict[str, Any] = await resp.json()
        return body


@pytest.fixture
async def world(
    emulator: Running, client: stripe.StripeClient, http: aiohttp.ClientSession
) -> dict[str, list[dict[str, Any]]]:
    """One of each object, in several states, fetched as raw JSON."""
    base = emulator.url
    v1 = f"{base}/v1"
    cus = await _post(http, f"{v1}/customers", {"email": "s@example.com"})
    paid = await _post(
        http,
        f"{v1}/payment_intents",
        {
            "amount": "1000",
            "currency": "usd",
            "customer": cus["id"],
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
    )
    declined = (
        await _post(
            http,
            f"{v1}/payment_intents",
            {
                "amount": "1000",
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclined",
                "confirm": "true",
            },
        )
    )["error"]["payment_intent"]
    action = await _post(
        http,
        f"{v1}/payment_intents",
        {
            "amount": "1000",
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": "true",
        },
    )
    processing = await _post(
        http,
        f"{v1}/payment_intents",
        {
            "amount": "1000",
            "currency": "usd",
            "payment_method": "pm_card_emulatorProcessing",
            "confirm": "true",
        },
    )
    canceled = await _post(http, f"{v1}/payment_intents/{action['id']}/cancel", {})
    refund = await _post(http, f"{v1}/refunds", {"payment_intent": paid["id"], "amount": "100"})
    session = await _post(
        http,
        f"{v1}/checkout/sessions",
        {
            "mode": "payment",
            "success_url": "https://x.example/ok",
            "cancel_url": "https://x.example/no",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "700",
            "line_items[0][price_data][product_data][name]": "Thing",
            "line_items[0][quantity]": "1",
        },
    )
    async with http.post(
        session["url"],
        data={"card": "4242424242424242", "exp": "12/34", "cvc": "1", "email": "p@x.example"},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
    saved = await _post(
        http,
        f"{v1}/setup_intents",
        {"customer": cus["id"], "payment_method": "pm_card_visa", "confirm": "true"},
    )
    challenged = await _post(
        http, f"{v1}/setup_intents", {"payment_method": "pm_card_threeDSecureRequired"}
    )
    endpoint = await _post(
        http,
        f"{v1}/webhook_endpoints",
        {"url": "http://127.0.0.1:9/x", "enabled_events[]": "*", "description": "d"},
    )
    await emulator.handle.wait_idle()
    charges = await _get(http, f"{v1}/charges")
    return {
        "customer": [cus],
        "payment_intent": [paid, declined, action, processing, canceled],
        "charge": charges["data"],
        "refund": [refund],
        "payment_method": [await _get(http, f"{v1}/payment_methods/{paid['payment_method']}")],
        "setup_intent": [saved, challenged],
        "checkout.session": [session, await _get(http, f"{v1}/checkout/sessions/{session['id']}")],
        "item": (await _get(http, f"{v1}/checkout/sessions/{session['id']}/line_items"))["data"],
        "event": (await _get(http, f"{v1}/events"))["data"],
        "webhook_endpoint": [endpoint, (await _get(http, f"{v1}/webhook_endpoints"))["data"][0]],
    }


@pytest.mark.parametrize("kind", sorted(NULLABLE))
async def test_shape_matches_fixture(kind: str, world: dict[str, list[dict[str, Any]]]) -> None:
    samples = world[kind]
    assert samples
    assert_shape(kind, samples)


async def test_ids_look_like_stripe_ids(world: dict[str, list[dict[str, Any]]]) -> None:
    prefixes = {
        "customer": "cus_",
        "payment_intent": "pi_",
        "charge": "ch_",
        "refund": "re_",
        "payment_method": "pm_",
        "checkout.session": "cs_test_",
        "item": "li_",
        "event": "evt_",
        "webhook_endpoint": "we_",
        "setup_intent": "seti_",
    }
    for kind, prefix in prefixes.items():
        for obj in world[kind]:
            assert re.fullmatch(re.escape(prefix) + r"[A-Za-z0-9]+", obj["id"]), obj["id"]
