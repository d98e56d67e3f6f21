from __future__ import annotations

import asyncio
import uuid

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service import errors
from service.app import create_app
from service.config import Settings
from tests.support.api import API
from tests.support.emulator import running_emulator


async def test_unknown_route_is_json_404(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/nope")
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "details"}


async def test_wrong_method_is_json_405(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.post("/healthz")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_request_id_is_echoed_or_made(
    client: TestClient[web.Request, web.Application],
) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made.headers["X-Request-ID"]) == 32
    assert (await client.get("/missing")).headers["X-Request-ID"]


async def test_streamed_answers_carry_the_request_id_too(
    client: TestClient[web.Request, web.Application],
) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "X-Request-ID": "ws-upgrade-1",
    }
    async with client.get("/ws", headers=upgrade) as response:
        assert response.status == 101
        assert response.headers["X-Request-ID"] == "ws-upgrade-1"
    refused = await client.get("/api/payments/not-a-uuid/stream", headers={"X-Request-ID": "s-1"})
    assert refused.headers["X-Request-ID"] == "s-1"


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"size": len(await request.read())})


async def _raise_domain(request: web.Request) -> web.Response:
    raise errors.Conflict("already paid", code="order_already_paid", details={"order_id": "o1"})


async def _crash(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


async def test_errors_body_limit_and_crashes(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    app.router.add_post("/echo", _echo)
    app.router.add_get("/domain", _raise_domain)
    app.router.add_get("/crash", _crash)
    client = await aiohttp_client(app)

    assert (await (await client.post("/echo", data=b"x" * 1024)).json()) == {"size": 1024}
    too_big = await client.post("/echo", data=b"x" * 1025)
    assert too_big.status == 413
    assert (await too_big.json())["error"]["code"] == "payload_too_large"

    domain = await client.get("/domain")
    assert domain.status == 409
    assert await domain.json() == {
        "error": {
            "code": "order_already_paid",
            "message": "already paid",
            "details": {"order_id": "o1"},
        }
    }

    crash = await client.get("/crash")
    assert crash.status == 500
    body = await crash.json()
    assert body["error"]["code"] == "internal_error"
    assert "secret internals" not in body["error"]["message"]


async def test_every_service_error_is_answered_with_its_own_status(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    raised: list[errors.ServiceError] = [
        errors.InvalidInput("bad"),
        errors.NotFound("gone"),
        errors.Conflict("taken"),
        errors.Unauthenticated("who"),
        errors.Forbidden("no"),
        errors.Unavailable("full"),
        errors.DatabaseUnavailable(),
        errors.GatewayError("odd", stripe_code="x", request_id="req_1"),
        errors.GatewayCardError("Declined.", decline_code="insufficient_funds"),
        errors.GatewayInvalidRequest("Bad amount.", param="amount"),
        errors.GatewayInProgress("In use."),
        errors.GatewayAuthError("Invalid API Key provided: sk_test_***"),
        errors.GatewayUnavailable("Network error"),
    ]

    async def handler(request: web.Request) -> web.Response:
        raise raised[int(request.match_info["n"])]

    app = create_app(settings)
    app.router.add_get("/raise/{n}", handler)
    client = await aiohttp_client(app)
    answers = {}
    for n, exc in enumerate(raised):
        response = await client.get(f"/raise/{n}")
        body = await response.json()
        assert body == {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
        answers[body["error"]["code"]] = (response.status, response.headers.get("Retry-After"))
    assert answers == {
        "invalid_request": (422, None),
        "not_found": (404, None),
        "conflict": (409, None),
        "unauthenticated": (401, None),
        "forbidden": (403, None),
        "unavailable": (503, None),
        "database_unavailable": (503, "1"),
        "stripe_error": (502, None),
        "card_declined": (402, None),
        "stripe_invalid_request": (422, None),
        "stripe_request_in_progress": (409, "1"),
        "stripe_auth_error": (502, None),
        "stripe_unavailable": (503, None),
    }


async def test_a_stripe_request_in_flight_is_409_and_keeps_the_payment(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    # Two creates for one order at once: the second reuses the row and calls Stripe with
    # the same idempotency key while the first call is still running there.
    async with running_emulator(api_delay=0.3) as emulator:
        stripe = {"stripe_api_base": emulator.url, "stripe_max_network_retries": 0}
        app = create_app(settings.model_copy(update=stripe))
        client = await aiohttp_client(app)
        body = {"order_id": f"inflight-{uuid.uuid4()}", "amount": 2500, "currency": "usd"}
        first, second = await asyncio.gather(
            client.post("/api/payment-intents", json=body, headers=API),
            client.post("/api/payment-intents", json=body, headers=API),
        )
        answers = sorted([first, second], key=lambda r: r.status)
        created, busy = answers
        assert [r.status for r in answers] == [201, 409]
        assert busy.headers["Retry-After"] == "1"
        error = (await busy.json())["error"]
        assert error["code"] == "stripe_request_in_progress"
        assert error["details"]["stripe_code"] == "idempotency_key_in_use"
        # Not abandoned: the retry finds the same payment, now with its PaymentIntent.
        retried = await client.post("/api/payment-intents", json=body, headers=API)
        again = await retried.json()
        assert retried.status == 200, again
        assert again["payment_id"] == (await created.json())["payment_id"]
        assert again["status"] == "requires_payment_method"
