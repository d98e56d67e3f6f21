"""CORS: the configured origins only, on /api/ only, error answers included."""

from __future__ import annotations

import uuid

import pytest
from aiohttp import hdrs, web
from multidict import CIMultiDictProxy
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from tests.support.api import API, Client
from tests.support.settings import make_settings

SHOP = "https://shop.example"
OTHER = "https://evil.example"
ALLOW_ORIGIN = hdrs.ACCESS_CONTROL_ALLOW_ORIGIN


def _app(database_url: str, origins: list[str]) -> web.Application:
    return create_app(make_settings(database_url, cors_origins=origins))


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, database_url: str) -> Client:
    return await aiohttp_client(_app(database_url, [SHOP, "http://localhost:5173"]))


def _preflight(origin: str, method: str = "POST", headers: str = "") -> dict[str, str]:
    out: dict[str, str] = {hdrs.ORIGIN: origin, hdrs.ACCESS_CONTROL_REQUEST_METHOD: method}
    if headers:
        out[hdrs.ACCESS_CONTROL_REQUEST_HEADERS] = headers
    return out


def _no_cors(headers: CIMultiDictProxy[str]) -> bool:
    return not any(name.lower().startswith("access-control-") for name in headers)


async def test_preflight_from_an_allowed_origin(client: Client) -> None:
    asked = "content-type, idempotency-key, x-order-token, x-request-id"
    response = await client.options("/api/payment-intents", headers=_preflight(SHOP, "POST", asked))
    assert response.status == 200
    assert response.headers[ALLOW_ORIGIN] == SHOP
    assert response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] == "POST"
    allowed = {
        h.strip().lower() for h in response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS].split(",")
    }
    assert allowed == {h.strip() for h in asked.split(",")}
    assert response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] == "600"
    assert hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS not in response.headers
    assert "Origin" in response.headers.get(hdrs.VARY, "")


async def test_preflight_with_a_status_token_on_a_read_route(client: Client) -> None:
    response = await client.options(
        f"/api/payments/{uuid.uuid4()}/stream",
        headers=_preflight("http://localhost:5173", "GET", "X-Status-Token"),
    )
    assert response.status == 200
    assert response.headers[ALLOW_ORIGIN] == "http://localhost:5173"


async def test_preflight_from_another_origin_is_refused(client: Client) -> None:
    response = await client.options("/api/payment-intents", headers=_preflight(OTHER))
    # aiohttp-cors raises 403; the error middleware gives it the usual JSON shape.
    assert response.status == 403
    assert _no_cors(response.headers)
    assert (await response.json())["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", "X-Not-Allowed"),  # a header outside the list
        ("DELETE", ""),  # a method the resource does not have
        ("POST", "Cookie"),
    ],
)
async def test_preflight_outside_the_policy_is_refused(
    client: Client, method: str, headers: str
) -> None:
    response = await client.options(
        "/api/payment-intents", headers=_preflight(SHOP, method, headers)
    )
    assert response.status == 403
    assert _no_cors(response.headers)


async def test_simple_request_from_an_allowed_origin(client: Client) -> None:
    response = await client.get("/api/payments", headers={**API, hdrs.ORIGIN: SHOP})
    assert response.status == 200
    assert response.headers[ALLOW_ORIGIN] == SHOP
    exposed = set(response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS].split(","))
    assert exposed == {"X-Request-ID", "Idempotent-Replayed"}
    assert hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS not in response.headers
    assert "Origin" in response.headers[hdrs.VARY]


async def test_simple_request_from_another_origin_gets_no_cors_headers(client: Client) -> None:
    response = await client.get("/api/payments", headers={**API, hdrs.ORIGIN: OTHER})
    assert response.status == 200  # the browser, not the server, withholds the answer
    assert _no_cors(response.headers)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (f"/api/payments/{uuid.uuid4()}", API, 404),  # raised NotFound, turned into JSON
        (f"/api/payments/{uuid.uuid4()}", {}, 401),  # raised Unauthenticated
        ("/api/payments?limit=0", API, 422),
    ],
)
async def test_error_answers_carry_cors_headers(
    client: Client, path: str, headers: dict[str, str], status: int
) -> None:
    response = await client.get(path, headers={**headers, hdrs.ORIGIN: SHOP})
    assert response.status == status
    assert response.headers[ALLOW_ORIGIN] == SHOP
    assert (await response.json())["error"]["code"]


async def test_replayed_post_exposes_the_replay_header(client: Client) -> None:
    headers = {**API, hdrs.ORIGIN: SHOP, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await client.post("/api/payment-intents", json={"amount": 1}, headers=headers)
    assert first.status == 422  # stored: a 422 is not retryable
    again = await client.post("/api/payment-intents", json={"amount": 1}, headers=headers)
    assert again.status == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers[ALLOW_ORIGIN] == SHOP
    assert "Idempotent-Replayed" in again.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS]


async def test_unknown_api_path_has_no_cors_headers(client: Client) -> None:
    # No route matched, so aiohttp-cors has no resource to configure it by.
    response = await client.get("/api/nope", headers={hdrs.ORIGIN: SHOP})
    assert response.status == 404
    assert _no_cors(response.headers)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/webhooks/stripe", 400),  # server to server: bad signature, no CORS
        ("OPTIONS", "/webhooks/stripe", 405),
        ("GET", "/healthz", 200),
        ("OPTIONS", "/healthz", 405),
        ("OPTIONS", "/ws", 405),
    ],
)
async def test_routes_outside_the_api_get_no_cors(
    client: Client, method: str, path: str, status: int
) -> None:
    headers = _preflight(SHOP) if method == "OPTIONS" else {hdrs.ORIGIN: SHOP}
    response = await client.request(method, path, headers=headers, data=b"{}")
    assert response.status == status
    assert _no_cors(response.headers)


def test_only_api_routes_are_wrapped() -> None:
    app = _app("postgresql://127.0.0.1:9/unused", [SHOP])  # never started
    with_preflight = {
        r.resource.canonical
        for r in app.router.routes()
        if r.method == hdrs.METH_OPTIONS and r.resource is not None
    }
    api = {
        r.resource.canonical
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/")
    }
    assert with_preflight == api
    assert "/ws" not in with_preflight
    assert "/webhooks/stripe" not in with_preflight


async def test_no_origins_configured_allows_nothing(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    app = _app(database_url, [])
    client = await aiohttp_client(app)
    preflight = await client.options("/api/payment-intents", headers=_preflight(SHOP))
    assert preflight.status == 405  # no preflight route at all
    assert _no_cors(preflight.headers)
    simple = await client.get("/api/payments", headers={**API, hdrs.ORIGIN: SHOP})
    assert simple.status == 200
    assert _no_cors(simple.headers)
