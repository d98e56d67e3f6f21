from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service import errors
from service.app import create_app
from service.config import Settings


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
