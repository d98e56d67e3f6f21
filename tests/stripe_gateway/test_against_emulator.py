"""StripeGateway against the emulator on a real port: each call, idempotency, paging and
its logs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import pytest

from service.payments.ports import (
    GatewayInProgress,
    GatewayInvalidRequest,
    GatewayPaymentIntent,
    LineItem,
    PaymentGateway,
)
from service.stripe_gateway import StripeGateway
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.stripe_standins import SECRET, create_intent, key


async def emulator_post(
    emulator: RunningEmulator, path: str, data: dict[str, str]
) -> dict[str, Any]:
    """A plain HTTP call to the emulator, for what the gateway never does (confirming)."""
    headers = {"Authorization": f"Bearer {emulator.secret_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(emulator.url + path, data=data, headers=headers) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body


async def emulator_get(emulator: RunningEmulator, path: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {emulator.secret_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(emulator.url + path, headers=headers) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body


def test_satisfies_the_port() -> None:
    gateway: PaymentGateway = StripeGateway(SECRET, api_base=None)
    assert gateway is not None


# --- against the emulator -------------------------------------------------------------


async def test_create_customer(gateway: StripeGateway, emulator: RunningEmulator) -> None:
    idem = key()
    customer_id = await gateway.create_customer(
        external_id="user-42", email="ada@example.com", name="Ada", idempotency_key=idem
    )
    assert customer_id.startswith("cus_")
    stored = await emulator_get(emulator, f"/v1/customers/{customer_id}")
    assert stored["email"] == "ada@example.com"
    assert stored["name"] == "Ada"
    assert stored["metadata"] == {"external_id": "user-42"}
    [event] = emulator.handle.events("customer.created")
    assert event["request"]["idempotency_key"] == idem


async def test_create_payment_intent_with_automatic_methods(
    gateway: StripeGateway, emulator: RunningEmulator
) -> None:
    customer = await gateway.create_customer(
        external_id="u-1", email=None, name=None, idempotency_key=key()
    )
    idem = key()
    intent = await create_intent(
        gateway,
        customer=customer,
        description="Order 17",
        metadata={"payment_id": "pay-17", "order_id": "o-17"},
        capture_method="manual",
        idempotency_key=idem,
    )
    assert intent.id.startswith("pi_")
    assert intent.status == "requires_payment_method"
    assert (intent.amount, intent.currency) == (1099, "usd")
    assert intent.client_secret is not None
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert intent.capture_method == "manual"
    assert intent.metadata == {"payment_id": "pay-17", "order_id": "o-17"}
    assert intent.amount_received == 0
    assert intent.latest_charge is None
    assert intent.last_payment_error is None
    assert intent.created > 0
    assert intent.raw["automatic_payment_methods"]["enabled"] is True
    assert intent.raw["customer"] == customer
    assert intent.raw["description"] == "Order 17"
    [event] = emulator.handle.events("payment_intent.created")
    assert event["request"]["idempotency_key"] == idem


async def test_create_payment_intent_with_explicit_method_types(gateway: StripeGateway) -> None:
    intent = await create_intent(gateway, payment_method_types=["card"])
    assert intent.status == "requires_payment_method"
    assert intent.raw["payment_method_types"] == ["card"]
    assert intent.raw["automatic_payment_methods"] is None


async def test_same_idempotency_key_returns_the_same_intent(
    gateway: StripeGateway, emulator: RunningEmulator
) -> None:
    idem = key()
    first = await create_intent(gateway, idempotency_key=idem)
    again = await create_intent(gateway, idempotency_key=idem)
    other = await create_intent(gateway, idempotency_key=key())
    assert again.id == first.id
    assert again.client_secret == first.client_secret
    assert other.id != first.id
    assert len(emulator.handle.events("payment_intent.created")) == 2


async def test_same_key_with_other_parameters_is_invalid(gateway: StripeGateway) -> None:
    idem = key()
    await create_intent(gateway, idempotency_key=idem)
    with pytest.raises(GatewayInvalidRequest) as caught:
        await create_intent(gateway, amount=2000, idempotency_key=idem)
    assert caught.value.stripe_status == 400
    assert "same parameters" in caught.value.stripe_message


async def test_request_in_flight_with_the_same_key_is_in_progress() -> None:
    # Stripe answers 409 while the first request with a key still runs: retry later. Ours
    # is 409 too, as for a request in flight with the caller's own Idempotency-Key.
    # No network retries here, or the SDK's own retry would get the finished answer.
    async with running_emulator(api_delay=0.3) as emulator:
        gateway = StripeGateway(emulator.secret_key, api_base=emulator.url, max_network_retries=0)
        try:
            idem = key()
            results = await asyncio.gather(
                create_intent(gateway, idempotency_key=idem),
                create_intent(gateway, idempotency_key=idem),
                return_exceptions=True,
            )
        finally:
            await gateway.close()
    [created] = [r for r in results if isinstance(r, GatewayPaymentIntent)]
    [error] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(error, GatewayInProgress)
    assert error.stripe_status == 409
    assert error.stripe_code == "idempotency_key_in_use"
    assert (error.http_status, error.code, error.retry_after) == (
        409,
        "stripe_request_in_progress",
        1,
    )
    assert created.id.startswith("pi_")


async def test_invalid_parameters(gateway: StripeGateway) -> None:
    with pytest.raises(GatewayInvalidRequest) as caught:
        await create_intent(gateway, amount=10)
    error = caught.value
    assert error.stripe_code == "amount_too_small"
    assert error.param == "amount"
    assert error.stripe_status == 400
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert "at least" in error.stripe_message


async def test_retrieve_payment_intent(gateway: StripeGateway) -> None:
    created = await create_intent(gateway)
    fetched = await gateway.retrieve_payment_intent(created.id)
    assert fetched == created


async def test_retrieve_missing_payment_intent(gateway: StripeGateway) -> None:
    with pytest.raises(GatewayInvalidRequest) as caught:
        await gateway.retrieve_payment_intent("pi_doesnotexist")
    assert caught.value.stripe_status == 404
    assert caught.value.stripe_code == "resource_missing"


async def test_cancel_payment_intent(gateway: StripeGateway) -> None:
    created = await create_intent(gateway)
    canceled = await gateway.cancel_payment_intent(
        created.id, reason="requested_by_customer", idempotency_key=key()
    )
    assert canceled.id == created.id
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    with pytest.raises(GatewayInvalidRequest) as caught:
        await gateway.cancel_payment_intent(created.id, reason=None, idempotency_key=key())
    assert caught.value.stripe_code == "payment_intent_unexpected_state"


async def test_create_checkout_session(gateway: StripeGateway, emulator: RunningEmulator) -> None:
    expires_at = int(time.time()) + 3600
    metadata = {"payment_id": "pay-9", "order_id": "o-9"}
    session = await gateway.create_checkout_session(
        currency="eur",
        line_items=[
            LineItem(name="Seat 12A", unit_amount=2500, quantity=2),
            LineItem(name="Luggage", unit_amount=1000, quantity=1),
        ],
        success_url="https://shop.example/ok?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.example/cancel",
        expires_at=expires_at,
        customer=None,
        customer_email="ada@example.com",
        client_reference_id="o-9",
        metadata=metadata,
        idempotency_key=key(),
    )
    assert session.id.startswith("cs_")
    assert session.url.startswith(emulator.url + "/")
    assert session.expires_at == expires_at
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert session.raw["amount_total"] == 6000
    assert session.raw["client_reference_id"] == "o-9"
    assert session.raw["customer_email"] == "ada@example.com"
    assert session.raw["metadata"] == metadata
    assert session.raw["success_url"] == f"https://shop.example/ok?session={session.id}"
    assert session.payment_intent is None  # Stripe makes it when the customer pays
    form = {"card": "4242424242424242", "exp": "12/34", "cvc": "123"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(session.url, data=form, allow_redirects=False) as paid,
    ):
        assert paid.status == 303
    session = await gateway.retrieve_checkout_session(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.payment_intent is not None
    intent = await gateway.retrieve_payment_intent(session.payment_intent)
    assert intent.metadata == metadata
    assert (intent.amount, intent.currency, intent.status) == (6000, "eur", "succeeded")
    items = await emulator_get(emulator, f"/v1/checkout/sessions/{session.id}/line_items")
    assert [(i["description"], i["quantity"]) for i in items["data"]] == [
        ("Seat 12A", 2),
        ("Luggage", 1),
    ]


async def test_checkout_session_for_a_customer(gateway: StripeGateway) -> None:
    customer = await gateway.create_customer(
        external_id="u-2", email="bo@example.com", name=None, idempotency_key=key()
    )
    session = await gateway.create_checkout_session(
        currency="usd",
        line_items=[LineItem(name="Ticket", unit_amount=900, quantity=1)],
        success_url="https://shop.example/ok",
        cancel_url="https://shop.example/cancel",
        expires_at=int(time.time()) + 1800,
        customer=customer,
        customer_email="ignored@example.com",
        client_reference_id="o-10",
        metadata={},
        idempotency_key=key(),
    )
    assert session.raw["customer"] == customer
    assert session.raw["customer_email"] is None


async def test_create_refund(gateway: StripeGateway, emulator: RunningEmulator) -> None:
    intent = await create_intent(gateway, amount=5000)
    confirmed = await emulator_post(
        emulator, f"/v1/payment_intents/{intent.id}/confirm", {"payment_method": "pm_card_visa"}
    )
    assert confirmed["status"] == "succeeded"
    after = await gateway.retrieve_payment_intent(intent.id)
    assert after.amount_received == 5000
    assert after.latest_charge == confirmed["latest_charge"]

    refund = await gateway.create_refund(
        payment_intent_id=intent.id,
        amount=1500,
        reason="requested_by_customer",
        metadata={"refund_id": "r-1"},
        idempotency_key=key(),
    )
    assert refund.id.startswith("re_")
    assert (refund.amount, refund.currency) == (1500, "usd")
    assert refund.status == "succeeded"
    assert refund.payment_intent == intent.id
    assert refund.failure_reason is None
    assert refund.raw["reason"] == "requested_by_customer"
    assert refund.raw["metadata"] == {"refund_id": "r-1"}
    with pytest.raises(GatewayInvalidRequest):
        await gateway.create_refund(
            payment_intent_id=intent.id,
            amount=4000,
            reason=None,
            metadata={},
            idempotency_key=key(),
        )


async def test_list_events_oldest_first_with_paging(
    gateway: StripeGateway, emulator: RunningEmulator
) -> None:
    for _ in range(4):
        await create_intent(gateway)
    await gateway.create_customer(external_id="u", email=None, name=None, idempotency_key=key())
    expected = [e["id"] for e in emulator.handle.events()]
    assert len(expected) == 5

    first, more = await gateway.list_events(created_after=None, starting_after=None, limit=2)
    assert [e["id"] for e in first] == expected[:2]
    assert more is True
    assert first[0]["type"] == "payment_intent.created"
    assert first[0]["data"]["object"]["object"] == "payment_intent"

    seen = [e["id"] for e in first]
    while more:
        page, more = await gateway.list_events(created_after=None, starting_after=seen[-1], limit=2)
        seen += [e["id"] for e in page]
    assert seen == expected
    assert await gateway.list_events(created_after=None, starting_after=seen[-1], limit=2) == (
        [],
        False,
    )


async def test_list_events_after_a_created_watermark(
    gateway: StripeGateway, emulator: RunningEmulator
) -> None:
    for _ in range(4):
        await create_intent(gateway)
    events = emulator.handle.events()
    # Age the first two events by a minute, so a watermark falls between them and the rest.
    for event in events[:2]:
        event["created"] -= 60
    watermark = events[1]["created"]

    listed, more = await gateway.list_events(created_after=watermark, starting_after=None, limit=10)
    assert [e["id"] for e in listed] == [e["id"] for e in events[2:]]
    assert more is False

    oldest, more = await gateway.list_events(created_after=watermark, starting_after=None, limit=1)
    assert [e["id"] for e in oldest] == [events[2]["id"]]
    assert more is True

    future = int(time.time()) + 3600
    assert await gateway.list_events(created_after=future, starting_after=None, limit=5) == (
        [],
        False,
    )


async def test_list_events_walks_more_than_one_page(
    gateway: StripeGateway, emulator: RunningEmulator
) -> None:
    # 105 events: finding the oldest without a cursor takes two pages of 100.
    await asyncio.gather(*(create_intent(gateway) for _ in range(105)))
    expected = [e["id"] for e in emulator.handle.events()]
    assert len(expected) == 105
    oldest, more = await gateway.list_events(created_after=None, starting_after=None, limit=3)
    assert [e["id"] for e in oldest] == expected[:3]
    assert more is True


async def test_list_events_rejects_a_bad_limit(gateway: StripeGateway) -> None:
    with pytest.raises(ValueError, match="limit"):
        await gateway.list_events(created_after=None, starting_after=None, limit=0)


async def test_logs_each_call_with_request_id_and_never_the_key(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = StripeGateway(SECRET, api_base=emulator.url)
    try:
        with caplog.at_level(logging.DEBUG, logger="service.stripe_gateway"):
            intent = await create_intent(gateway)
            with pytest.raises(GatewayInvalidRequest):
                await gateway.retrieve_payment_intent("pi_missing")
    finally:
        await gateway.close()
    ours = [r for r in caplog.records if r.name == "service.stripe_gateway"]
    assert len(ours) == 2
    assert "payment_intents.create: ok in" in ours[0].getMessage()
    assert "request id req_" in ours[0].getMessage()
    assert "GatewayInvalidRequest" in ours[1].getMessage()
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert intent.id
