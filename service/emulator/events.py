"""Events (retrieve, list with filters) and webhook endpoints (create, list, delete)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import objects
from .api import answer, emu, params, text
from .errors import invalid, param_missing
from .store import Obj, new_id, page

routes = web.RouteTableDef()

_BOUNDS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _type_filter(p: dict[str, Any]) -> list[str] | None:
    single, many = text(p, "type"), p.get("types")
    if single is not None and many is not None:
        raise invalid("You cannot specify both `type` and `types`.", param="types")
    if single is not None:
        return [single]
    if many is None:
        return None
    if not isinstance(many, list) or len(many) > 20:
        raise invalid("`types` must be a list of at most 20 event types.", param="types")
    return [str(t) for t in many]


def _type_matches(patterns: list[str], event_type: str) -> bool:
    # Stripe accepts a trailing wildcard such as `payment_intent.*`.
    return any(
        event_type == p or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns
    )


def _created_filter(p: dict[str, Any]) -> list[tuple[str, int]]:
    raw = p.get("created")
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = {"gte": raw, "lte": raw}
    if not isinstance(raw, dict) or not set(raw) <= set(_BOUNDS):
        raise invalid("Invalid created filter.", param="created")
    try:
        return [(op, int(value)) for op, value in raw.items()]
    except (TypeError, ValueError):
        raise invalid("Invalid integer in created filter.", param="created") from None


@routes.get("/v1/events")
async def list_(request: web.Request) -> web.Response:
    p = params(request)
    types, created = _type_filter(p), _created_filter(p)
    found = [
        e
        for e in emu(request).store.newest_first("event")
        if (types is None or _type_matches(types, e["type"]))
        and all(_BOUNDS[op](e["created"], v) for op, v in created)
    ]
    return answer(request, page(found, p, "/v1/events"))


@routes.get("/v1/events/{id}")
async def retrieve(request: web.Request) -> web.Response:
    return answer(request, emu(request).store.get("event", request.match_info["id"]))


@routes.post("/v1/webhook_endpoints")
async def create_endpoint(request: web.Request) -> web.Response:
    p = params(request)
    emulator = emu(request)
    url = text(p, "url", required=True) or ""
    events = p.get("enabled_events")
    if not isinstance(events, list) or not events:
        raise param_missing("enabled_events")
    endpoint = objects.webhook_endpoint(
        url,
        [str(e) for e in events],
        text(p, "description"),
        text(p, "api_version") or emulator.config.api_version,
    )
    secret = new_id("whsec", 32)
    emulator.store.add_endpoint(endpoint, secret)
    # Stripe shows the signing secret only in the answer to the create call.
    return answer(request, {**endpoint, "secret": secret})


@routes.get("/v1/webhook_endpoints")
async def list_endpoints(request: web.Request) -> web.Response:
    found = emu(request).store.newest_first("webhook_endpoint")
    return answer(request, page(found, params(request), "/v1/webhook_endpoints"))


@routes.get("/v1/webhook_endpoints/{id}")
async def retrieve_endpoint(request: web.Request) -> web.Response:
    return answer(request, emu(request).store.get("webhook_endpoint", request.match_info["id"]))


@routes.delete("/v1/webhook_endpoints/{id}")
async def delete_endpoint(request: web.Request) -> web.Response:
    endpoint: Obj = emu(request).store.delete_endpoint(request.match_info["id"])
    return answer(request, {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True})
