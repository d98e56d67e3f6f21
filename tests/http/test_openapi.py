"""The OpenAPI document: valid 3.1, covers every route, and real answers match it."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from aiohttp import web
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from pytest_aiohttp import AiohttpClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from service.app import create_app
from service.http import openapi
from service.http.openapi import build_openapi
from service.http.openapi_table import OPENAPI_PATH
from service.keys import OPENAPI_DOCUMENT
from tests.support.api import API, Client
from tests.support.emulator import RunningEmulator
from tests.support.settings import make_settings

DOC_URI = "urn:paylive:openapi"
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def _app(database_url: str, **overrides: object) -> web.Application:
    # CORS adds OPTIONS routes: they must not confuse the coverage check.
    settings = make_settings(database_url, cors_origins=["https://shop.example"], **overrides)
    return create_app(settings)


def _registered(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method in SKIPPED_METHODS:
            continue
        assert route.resource is not None
        routes.add((route.method, route.resource.canonical))
    return routes


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


@pytest.mark.parametrize("anonymous", [False, True])
def test_the_document_is_valid_openapi_3_1(anonymous: bool) -> None:
    doc = build_openapi(allow_anonymous_create=anonymous)
    assert doc["openapi"] == "3.1.0"
    validate(doc, cls=OpenAPIV31SpecValidator)
    security = doc["paths"]["/api/payment-intents"]["post"]["security"]
    assert ({} in security) is anonymous


def test_every_route_is_documented_and_nothing_else() -> None:
    app = _app("postgresql://127.0.0.1:9/unused")  # never started: no database needed
    doc = build_openapi()
    assert _registered(app) == _documented(doc)


def test_post_api_routes_take_an_idempotency_key() -> None:
    doc = build_openapi()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            refs = [p.get("$ref") for p in op.get("parameters", [])]
            expected = method == "post" and path.startswith("/api/")
            assert ("#/components/parameters/IdempotencyKey" in refs) is expected, (method, path)


def test_payment_id_is_a_uuid_path_parameter() -> None:
    doc = build_openapi()
    for path, item in doc["paths"].items():
        for op in item.values():
            names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
            expected = re.findall(r"{(\w+)}", path)
            assert names == expected, path
            assert set(expected) <= {
                "payment_id",
                "notification_id",
                "external_id",
                "payment_method_id",
            }, path
    param = doc["paths"]["/api/payments/{payment_id}"]["get"]["parameters"][0]
    assert param["schema"] == {"type": "string", "format": "uuid"}
    assert param["required"] is True


def test_webhook_documents_its_signature_header() -> None:
    op = build_openapi()["paths"]["/webhooks/stripe"]["post"]
    assert op["security"] == []
    assert {"name": "Stripe-Signature", "in": "header", "required": True}.items() <= op[
        "parameters"
    ][0].items()


# --- Served, and real answers match the documented schemas ---------------------------------


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> Client:
    return await aiohttp_client(_app(database_url, stripe_api_base=emulator.url))


class Documented:
    """Validates a real answer against the schema the document gives for it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        resource: Resource[Any] = Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)

    def check(self, method: str, path: str, status: int, body: object) -> None:
        pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
        response = self.doc["paths"][path][method.lower()]["responses"][str(status)]
        if "$ref" in response:  # a shared error answer in components/responses
            pointer = response["$ref"].removeprefix("#")
        schema = {"$ref": f"{DOC_URI}#{pointer}/content/{_escape('application/json')}/schema"}
        # OAS 3.1 schema objects are JSON Schema 2020-12 plus the OpenAPI vocabulary.
        validator = OAS31Validator(
            schema, registry=self.registry, format_checker=oas31_format_checker
        )
        validator.validate(body)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


async def _json(client: Client, method: str, url: str, status: int, **kw: Any) -> Any:
    response = await client.request(method, url, **kw)
    body = await response.json()
    assert response.status == status, body
    return body


async def test_the_document_is_served_as_built_at_startup(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building again per request would fail now.
    monkeypatch.setattr(openapi, "build_openapi", None)
    response = await api.get(OPENAPI_PATH)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.read() == api.app[OPENAPI_DOCUMENT]
    validate(await response.json(), cls=OpenAPIV31SpecValidator)


async def test_real_answers_match_the_document(api: Client) -> None:
    doc = await _json(api, "GET", OPENAPI_PATH, 200)
    documented = Documented(doc)
    check = documented.check

    check("GET", "/healthz", 200, await _json(api, "GET", "/healthz", 200))
    check("GET", "/readyz", 200, await _json(api, "GET", "/readyz", 200))

    body = {"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd"}
    created = await _json(api, "POST", "/api/payment-intents", 201, json=body, headers=API)
    check("POST", "/api/payment-intents", 201, created)
    reused = await _json(api, "POST", "/api/payment-intents", 200, json=body, headers=API)
    check("POST", "/api/payment-intents", 200, reused)

    one = "/api/payments/{payment_id}"
    url = f"/api/payments/{created['payment_id']}"
    token = {"X-Status-Token": created["status_token"]}
    check("GET", one, 200, await _json(api, "GET", url, 200, headers=token))
    check(
        "GET", f"{one}/timeline", 200, await _json(api, "GET", f"{url}/timeline", 200, headers=API)
    )
    check(
        "GET", f"{one}/attempts", 200, await _json(api, "GET", f"{url}/attempts", 200, headers=API)
    )
    listed = await _json(api, "GET", "/api/payments", 200, params={"limit": 1}, headers=API)
    check("GET", "/api/payments", 200, listed)
    cancelled = await _json(api, "POST", f"{url}/cancel", 200, headers=API)
    check("POST", f"{one}/cancel", 200, cancelled)

    # Error answers: each status the table names for these routes is the shared ErrorOut.
    missing = f"/api/payments/{uuid.uuid4()}"
    check("GET", one, 404, await _json(api, "GET", missing, 404, headers=API))
    check("GET", one, 401, await _json(api, "GET", url, 401))
    check(
        "GET",
        "/api/payments",
        422,
        await _json(api, "GET", "/api/payments?limit=0", 422, headers=API),
    )
    check(
        "POST",
        "/api/payment-intents",
        422,
        await _json(api, "POST", "/api/payment-intents", 422, json={"amount": 1}, headers=API),
    )
    check(
        "POST",
        "/webhooks/stripe",
        400,
        await _json(api, "POST", "/webhooks/stripe", 400, data=b"{}"),
    )
