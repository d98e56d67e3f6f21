"""StripeGateway against the emulator on a real port, and against tiny failing servers."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
import stripe
from aiohttp import web
from aiohttp.typedefs import Handler

from service.payments.ports import (
    GatewayAuthError,
    GatewayCardError,
    GatewayError,
    GatewayInProgress,
    GatewayInvalidRequest,
    GatewayPaymentIntent,
    GatewayUnavailable,
    LineItem,
    PaymentGateway,
)
from service.stripe_gateway import StripeGateway
from tests.support.emulator import RunningEmulator, running_app, running_emulator

SECRET = "sk_test_gateway_secret_never_logged"


def key() -> str:
    return f"test-{uuid.uuid4()}"


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(min_session_lifetime=1) as running:
        yield running


@pytest.fixture
async def gateway(emulator: RunningEmulator) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(emulator.secret_key, api_base=emulator.url, timeout_seconds=5)
    yield gw
    await gw.close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # stripe-python backs off 0.5 s, 1 s, ... between retries; the count is what matters here.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)


def answering(handle: Handler) -> web.Application:
    """A Stripe stand-in where `handle` answers every request."""
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    return app


@asynccontextmanager
async def gateway_at(app: web.Application, **options: Any) -> AsyncIterator[StripeGateway]:
    """A gateway whose Stripe is `app`, closed after the block."""
    async with running_app(app) as url:
        gateway = StripeGateway(SECRET, api_base=url, **options)
        try:
            yield gateway
        finally:
            await gateway.close()


async def create_intent(gateway: StripeGateway, **overrides: Any) -> GatewayPaymentIntent:
    args: dict[str, Any] = {
        "amount": 1099,
        "currency": "usd",
        "customer": None,
        "description": None,
        "metadata": {"payment_id": "pay-1"},
        "capture_method": "automatic",
        "payment_method_types": None,
        "idempotency_key": key(),
    }
    args.update(overrides)
    return await gateway.create_payment_intent(**args)


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


# --- against servers that fail ----------------------------------------------------------


class Recorder:
    """A tiny Stripe stand-in: answers from a script and records each request's headers."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, str]] = []
        self.bodies: list[list[tuple[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        self.bodies.append(parse_qsl(await request.text(), keep_blank_values=True))
        status, body = self.answers[min(len(self.requests), len(self.answers)) - 1]
        request_id = f"req_tiny{len(self.requests)}"
        return web.json_response(body, status=status, headers={"Request-Id": request_id})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    @property
    def idempotency_keys(self) -> list[str | None]:
        return [h.get("Idempotency-Key") for h in self.requests]


def api_error(type_: str, message: str, **extra: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **extra}}


PI_BODY: dict[str, Any] = {
    "id": "pi_tiny",
    "object": "payment_intent",
    "status": "requires_payment_method",
    "amount": 1099,
    "currency": "usd",
    "client_secret": "pi_tiny_secret_x",
    "created": 1700000000,
    "capture_method": "automatic",
    "metadata": {},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_payment_intent_parameters_on_the_wire() -> None:
    recorder = Recorder((200, PI_BODY))
    async with gateway_at(recorder.app()) as gateway:
        await create_intent(gateway, metadata={"payment_id": "p"}, idempotency_key="k-auto")
        await create_intent(
            gateway,
            customer="cus_1",
            description="d",
            capture_method="manual",
            payment_method_types=["card", "link"],
            idempotency_key="k-types",
        )
    automatic, explicit = (dict(body) for body in recorder.bodies)
    assert automatic == {
        "amount": "1099",
        "currency": "usd",
        "metadata[payment_id]": "p",
        "capture_method": "automatic",
        "automatic_payment_methods[enabled]": "true",
    }
    assert explicit["customer"] == "cus_1"
    assert explicit["description"] == "d"
    assert explicit["capture_method"] == "manual"
    assert "automatic_payment_methods[enabled]" not in explicit
    # API 2026-09-30.endive made `payment_method_types` read-only on create.
    assert [v for k, v in recorder.bodies[1] if k.startswith("allowed_payment_method_types")] == [
        "card",
        "link",
    ]
    assert recorder.idempotency_keys == ["k-auto", "k-types"]


async def test_checkout_parameters_on_the_wire() -> None:
    session_body = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "url": "https://checkout.example/cs_test_1",
        "expires_at": 1700003600,
        "payment_intent": None,
        "status": "open",
        "payment_status": "unpaid",
    }
    recorder = Recorder((200, session_body))
    async with gateway_at(recorder.app()) as gateway:
        session = await gateway.create_checkout_session(
            currency="usd",
            line_items=[LineItem(name="Ticket", unit_amount=900, quantity=2)],
            success_url="https://shop.example/ok",
            cancel_url="https://shop.example/cancel",
            expires_at=1700003600,
            customer=None,
            customer_email="ada@example.com",
            client_reference_id="o-1",
            metadata={"payment_id": "p-1"},
            idempotency_key="k-cs",
        )
    assert session.payment_intent is None  # what real Stripe answers before payment
    sent = dict(recorder.bodies[0])
    assert sent == {
        "mode": "payment",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "900",
        "line_items[0][price_data][product_data][name]": "Ticket",
        "line_items[0][quantity]": "2",
        "success_url": "https://shop.example/ok",
        "cancel_url": "https://shop.example/cancel",
        "expires_at": "1700003600",
        "client_reference_id": "o-1",
        "metadata[payment_id]": "p-1",
        "payment_intent_data[metadata][payment_id]": "p-1",
        "customer_email": "ada@example.com",
    }
    assert recorder.idempotency_keys == ["k-cs"]


async def test_nothing_listening_is_unavailable(fast_retries: None) -> None:
    gateway = StripeGateway(SECRET, api_base=f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(GatewayUnavailable) as caught:
            await gateway.retrieve_payment_intent("pi_1")
    finally:
        await gateway.close()
    assert caught.value.stripe_status is None
    assert "Network error" in caught.value.stripe_message


async def test_server_errors_are_retried_with_the_same_idempotency_key(
    fast_retries: None,
) -> None:
    recorder = Recorder((500, api_error("api_error", "Something went wrong on Stripe's end.")))
    async with gateway_at(recorder.app(), max_network_retries=2) as gateway:
        with pytest.raises(GatewayUnavailable) as caught:
            await create_intent(gateway, idempotency_key="idem-500")
    assert recorder.idempotency_keys == ["idem-500"] * 3
    error = caught.value
    assert error.stripe_status == 500
    assert error.request_id == "req_tiny3"
    assert error.stripe_message == "Something went wrong on Stripe's end."


async def test_a_retry_that_succeeds_returns_the_result(fast_retries: None) -> None:
    failing = (503, api_error("api_error", "busy"))
    recorder = Recorder(failing, failing, (200, PI_BODY))
    async with gateway_at(recorder.app(), max_network_retries=2) as gateway:
        intent = await create_intent(gateway, idempotency_key="idem-retry")
    assert intent.id == "pi_tiny"
    assert recorder.idempotency_keys == ["idem-retry"] * 3


@pytest.mark.parametrize(
    ("status", "expected", "ours", "code"),
    [
        (401, GatewayAuthError, 502, "stripe_auth_error"),
        (403, GatewayAuthError, 502, "stripe_auth_error"),
        (429, GatewayUnavailable, 503, "stripe_unavailable"),
        (502, GatewayUnavailable, 503, "stripe_unavailable"),
        (400, GatewayInvalidRequest, 422, "stripe_invalid_request"),
    ],
)
async def test_status_mapping(
    fast_retries: None, status: int, expected: type[Exception], ours: int, code: str
) -> None:
    recorder = Recorder((status, api_error("invalid_request_error", "Nope.", code="x")))
    async with gateway_at(recorder.app(), max_network_retries=0) as gateway:
        with pytest.raises(expected) as caught:
            await gateway.retrieve_payment_intent("pi_1")
    assert type(caught.value) is expected
    assert isinstance(caught.value, GatewayError)
    assert (caught.value.http_status, caught.value.code) == (ours, code)
    assert caught.value.details == {"stripe_request_id": "req_tiny1", "stripe_code": "x"}
    assert len(recorder.requests) == 1
    assert recorder.requests[0]["Authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("status", "kind", "code", "expected"),
    [
        # However stripe-python classes it (a 409 APIError, or an IdempotencyError).
        (409, "invalid_request_error", "idempotency_key_in_use", GatewayInProgress),
        (400, "idempotency_error", "idempotency_key_in_use", GatewayInProgress),
        (409, "invalid_request_error", "lock_timeout", GatewayUnavailable),
        (400, "idempotency_error", "idempotency_key_reused", GatewayInvalidRequest),
    ],
)
async def test_stripe_conflicts(
    fast_retries: None, status: int, kind: str, code: str, expected: type[GatewayError]
) -> None:
    recorder = Recorder((status, api_error(kind, "Busy.", code=code)))
    async with gateway_at(recorder.app(), max_network_retries=0) as gateway:
        with pytest.raises(expected) as caught:
            await create_intent(gateway, idempotency_key="idem-409")
    assert type(caught.value) is expected
    assert (caught.value.stripe_status, caught.value.stripe_code) == (status, code)


async def test_bad_key_is_an_auth_error_and_not_retried(fast_retries: None) -> None:
    recorder = Recorder(
        (401, api_error("invalid_request_error", "Invalid API Key provided: sk_test_***"))
    )
    async with gateway_at(recorder.app(), max_network_retries=2) as gateway:
        with pytest.raises(GatewayAuthError) as caught:
            await gateway.create_customer(
                external_id="u", email=None, name=None, idempotency_key=key()
            )
    assert len(recorder.requests) == 1
    assert caught.value.stripe_status == 401
    assert caught.value.request_id == "req_tiny1"


async def test_card_error_keeps_stripe_codes() -> None:
    body = api_error(
        "card_error",
        "Your card was declined.",
        code="card_declined",
        decline_code="insufficient_funds",
        param="payment_method",
    )
    recorder = Recorder((402, body))
    async with gateway_at(recorder.app()) as gateway:
        with pytest.raises(GatewayCardError) as caught:
            await create_intent(gateway)
    error = caught.value
    assert (error.stripe_code, error.decline_code, error.param) == (
        "card_declined",
        "insufficient_funds",
        "payment_method",
    )
    assert (error.stripe_status, error.request_id) == (402, "req_tiny1")
    assert error.stripe_message == "Your card was declined."
    # What our API answers with, carried by the error itself.
    assert (error.http_status, error.code, error.message) == (
        402,
        "card_declined",
        "Your card was declined.",
    )
    assert error.details == {
        "stripe_request_id": "req_tiny1",
        "stripe_code": "card_declined",
        "param": "payment_method",
        "decline_code": "insufficient_funds",
    }


async def test_non_json_answer_is_unavailable() -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad gateway</html>")

    async with gateway_at(answering(handle), max_network_retries=0) as gateway:
        with pytest.raises(GatewayUnavailable) as caught:
            await gateway.retrieve_payment_intent("pi_1")
    assert caught.value.stripe_status == 502


async def test_slow_answer_times_out_as_unavailable() -> None:
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response(PI_BODY)

    async with gateway_at(answering(handle), timeout_seconds=0.2, max_network_retries=0) as gateway:
        try:
            with pytest.raises(GatewayUnavailable):
                await gateway.retrieve_payment_intent("pi_1")
        finally:
            release.set()


async def test_body_that_stalls_times_out_as_unavailable() -> None:
    # Headers arrive, the body does not: stripe-python reads it outside its error wrapper.
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"id": "pi_')
        await release.wait()
        return response

    async with gateway_at(answering(handle), timeout_seconds=0.3, max_network_retries=0) as gateway:
        try:
            with pytest.raises(GatewayUnavailable):
                await gateway.retrieve_payment_intent("pi_1")
        finally:
            release.set()


async def test_body_that_stalls_is_retried_with_the_same_key(fast_retries: None) -> None:
    release = asyncio.Event()
    keys: list[str | None] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        keys.append(request.headers.get("Idempotency-Key"))
        if len(keys) > 1:
            return web.json_response(PI_BODY)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"id": "pi_')
        await release.wait()
        return response

    async with gateway_at(answering(handle), timeout_seconds=0.3, max_network_retries=1) as gateway:
        try:
            intent = await create_intent(gateway, idempotency_key="k-stall")
        finally:
            release.set()
    assert intent.id == "pi_tiny"
    assert keys == ["k-stall", "k-stall"]


async def test_close_without_any_call() -> None:
    gateway = StripeGateway(SECRET, api_base=None)
    await gateway.close()
