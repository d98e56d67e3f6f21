"""``GET /api/openapi.json``: the OpenAPI 3.1 document, generated from the pydantic models.

``OPERATIONS`` (``openapi_table.py``) is the one declarative table of what each route
takes, returns and needs; the JSON Schemas come from ``service/http/schemas.py`` so they
cannot drift from what the handlers validate and serialize. The document is built and
encoded once, by ``build_document``; requests only send the stored bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from service.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from service.http.idempotency import REPLAYED_HEADER
from service.http.openapi_cards import CARD_OPERATIONS, CARD_PATH_PARAMS
from service.http.openapi_identity import IDENTITY_OPERATIONS
from service.http.openapi_live import LIVE_OPERATIONS
from service.http.openapi_notifications import NOTIFICATION_OPERATIONS, NOTIFICATION_PATH_PARAMS
from service.http.openapi_table import (
    CREATE,
    JSON,
    OPERATIONS,
    PATH_PARAMS,
    REF,
    SECURITY_SCHEMES,
    Operation,
    Param,
    Raw,
)
from service.http.schemas import ErrorOut
from service.keys import OPENAPI_DOCUMENT, SETTINGS

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad request (e.g. an invalid Idempotency-Key, a bad webhook signature, a NUL or "
    "undecodable bytes in the path, query or a header)",
    401: "Missing or invalid credentials",
    402: "The card was declined",
    403: "Credentials valid but not for this (wrong payment, order token mismatch, origin)",
    404: "No such payment",
    409: "Conflict (a request with this Idempotency-Key is in flight, or the payment's "
    "state does not allow it)",
    413: "The request body is too large",
    429: "Too many live connections for this credential or address; retry later",
    422: "The request is not valid (body, query, money rules, reused Idempotency-Key)",
    500: "Internal error",
    502: "Stripe refused or failed",
    503: "Unavailable (Stripe, or too many live connections); retry",
}

_IDEMPOTENCY_PARAM = "IdempotencyKey"
_REQUEST_ID_HEADER = "X-Request-ID"


# --- Building ---------------------------------------------------------------------------------


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every model the table names: request bodies in validation mode, answers in
    serialization mode (the two can differ, e.g. defaults and aliases)."""
    found: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorOut, "serialization"): None}
    for op in operations:
        if isinstance(op.request, type):
            found[(op.request, "validation")] = None
        for body in op.ok.values():
            if isinstance(body, type):
                found[(body, "serialization")] = None
    return list(found)


def _path_params(path: str) -> list[Param]:
    # KeyError here means a new path variable needs a PATH_PARAMS entry.
    known = {**PATH_PARAMS, **NOTIFICATION_PATH_PARAMS, **CARD_PATH_PARAMS}
    return [known[name] for name in re.findall(r"{(\w+)", path)]


def _param(p: Param) -> dict[str, Any]:
    return {
        "name": p.name,
        "in": p.location,
        "required": p.required,
        "description": p.description,
        "schema": dict(p.schema),
    }


def _content(body: type[BaseModel] | Raw, refs: Mapping[Any, Any], mode: str) -> dict[str, Any]:
    if isinstance(body, Raw):
        return {body.media_type: {"schema": dict(body.schema)}}
    return {JSON: {"schema": dict(refs[(body, mode)])}}


def _operation(
    op: Operation, refs: Mapping[Any, Any], *, allow_anonymous_create: bool
) -> dict[str, Any]:
    idempotent = op.method == "POST" and op.path.startswith("/api/")
    headers: dict[str, Any] = {_REQUEST_ID_HEADER: {"$ref": "#/components/headers/RequestId"}}
    if idempotent:
        headers[REPLAYED_HEADER] = {"$ref": "#/components/headers/IdempotentReplayed"}

    responses: dict[str, Any] = {}
    for status, body in op.ok.items():
        response: dict[str, Any] = {"description": _REASONS[status], "headers": headers}
        if body is not None:
            response["content"] = _content(body, refs, "serialization")
        responses[str(status)] = response
    for status in op.errors:
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}

    params = [_param(p) for p in (*_path_params(op.path), *op.params)]
    if idempotent:
        params.append({"$ref": f"#/components/parameters/{_IDEMPOTENCY_PARAM}"})

    security: list[dict[str, list[str]]] = [{name: []} for name in op.security]
    if allow_anonymous_create and op.security == CREATE:
        security.append({})  # the demo turns anonymous creation on explicitly

    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": security,
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if params:
        out["parameters"] = params
    if op.request is not None:
        out["requestBody"] = {
            "required": not op.body_optional,
            "content": _content(op.request, refs, "validation"),
        }
    return out


def build_openapi(
    operations: Iterable[Operation] = (
        *OPERATIONS,
        *LIVE_OPERATIONS,
        *IDENTITY_OPERATIONS,
        *NOTIFICATION_OPERATIONS,
        *CARD_OPERATIONS,
    ),
    *,
    allow_anonymous_create: bool = False,
) -> dict[str, Any]:
    operations = tuple(operations)
    # One generator for all models: shared $defs, and name clashes get distinct names.
    refs, top = models_json_schema(_models(operations), ref_template=REF)
    schemas = dict(sorted(top.get("$defs", {}).items()))
    error_ref = {"$ref": REF.format(model="ErrorOut")}
    statuses = sorted({s for op in operations for s in op.errors})

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item = paths.setdefault(op.path, {})
        if op.method.lower() in item:
            raise ValueError(f"{op.method} {op.path} is in the table twice")
        item[op.method.lower()] = _operation(
            op, refs, allow_anonymous_create=allow_anonymous_create
        )

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paylive",
            "version": _version(),
            "description": "Stripe payments for single-page apps. Amounts are integers in the "
            'currency\'s minor unit. Errors are `{"error": {"code", "message", '
            '"details"}}`.',
        },
        "tags": [
            {"name": "payments"},
            {"name": "live"},
            {"name": "webhooks"},
            {"name": "ops"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
            "parameters": {
                _IDEMPOTENCY_PARAM: {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "Same key and same request replays the stored answer "
                    f"(`{REPLAYED_HEADER}: true`); same key, other request: 422; "
                    "still in flight: 409.",
                    "schema": {"type": "string", "pattern": "^[\\x20-\\x7e]{1,255}$"},
                },
            },
            "headers": {
                "RequestId": {
                    "description": "The caller's X-Request-ID when sane, else a new one.",
                    "schema": {"type": "string"},
                },
                "IdempotentReplayed": {
                    "description": "`true` when this answer is a stored replay.",
                    "schema": {"type": "string", "enum": ["true"]},
                },
            },
            "responses": {
                f"Error{status}": {
                    "description": _REASONS[status],
                    "headers": {_REQUEST_ID_HEADER: {"$ref": "#/components/headers/RequestId"}},
                    "content": {JSON: {"schema": error_ref}},
                }
                for status in statuses
            },
        },
    }


def _version() -> str:
    try:
        return package_version("paylive")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


# --- Serving ----------------------------------------------------------------------------------


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type=JSON)


def build_document(app: web.Application) -> None:
    """Build the document once, for ``GET /api/openapi.json`` to send as is."""
    settings = app.get(SETTINGS)
    document = build_openapi(
        allow_anonymous_create=settings.allow_anonymous_create if settings else False
    )
    app[OPENAPI_DOCUMENT] = json.dumps(document, separators=(",", ":")).encode()
