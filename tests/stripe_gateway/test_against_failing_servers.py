"""StripeGateway against tiny servers that fail: parameters on the wire, retries with the
same idempotency key, status and error mapping, timeouts."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from service.payments.ports import (
    GatewayAuthError,
    GatewayCardError,
    GatewayError,
    GatewayInProgress,
    GatewayInvalidRequest,
    GatewayUnavailable,
    LineItem,
)
from service.stripe_gateway import StripeGateway
from tests.support.processes import free_port
from tests.support.stripe_standins import (
    PI_BODY,
    SECRET,
    Recorder,
    answering,
    api_error,
    create_intent,
    gateway_at,
    key,
)


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
