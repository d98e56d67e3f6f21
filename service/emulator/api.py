"""Helpers shared by the resource handlers: params, validation, expansion, answers."""

from __future__ import annotations

import copy
import json
from typing import Any

from aiohttp import web

from .errors import invalid, param_missing
from .state import Emulator
from .store import Obj, page

EMULATOR = web.AppKey("paylive_emulator", Emulator)
PARAMS = web.RequestKey("stripe_params", dict[str, Any])
PUBLISHABLE = web.RequestKey("stripe_publishable_key", bool)

# `expand[]` targets: field name -> stored kind.
_EXPANDABLE = {
    "latest_charge": "charge",
    "payment_method": "payment_method",
    "customer": "customer",
    "payment_intent": "payment_intent",
    "charge": "charge",
}

_MINIMUMS = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "sgd": 50, "chf": 50, "gbp": 30, "jpy": 50}


def emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def params(request: web.Request) -> dict[str, Any]:
    return request[PARAMS]


def check_client_secret(request: web.Request, intent: Obj, noun: str) -> None:
    """A publishable key only works together with the Payment/SetupIntent's client_secret."""
    if request[PUBLISHABLE] and params(request).get("client_secret") != intent["client_secret"]:
        raise invalid(
            "The client_secret provided does not match the client_secret associated "
            f"with the {noun}.",
            param="client_secret",
        )


def base_url(request: web.Request) -> str:
    configured = emu(request).config.public_url
    return (configured or str(request.url.origin())).rstrip("/")


def text(p: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = p.get(name)
    if value is None or value == "":
        if required:
            raise param_missing(name)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {name}", param=name)
    return value


def integer(
    p: dict[str, Any], name: str, *, required: bool = False, minimum: int = 1
) -> int | None:
    raw = text(p, name, required=required)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise invalid(f"Invalid integer: {raw}", param=name, code="parameter_invalid_integer")
    value = int(raw)
    if value < minimum:
        raise invalid(
            f"This value must be greater than or equal to {minimum}.",
            param=name,
            code="parameter_invalid_integer",
        )
    return value


def boolean(p: dict[str, Any], name: str) -> bool:
    raw = text(p, name)
    if raw is None:
        return False
    if raw not in {"true", "false"}:
        raise invalid(f"Invalid boolean: {raw}", param=name)
    return raw == "true"


def currency(p: dict[str, Any], name: str = "currency") -> str:
    raw = text(p, name, required=True) or ""
    if len(raw) != 3 or not raw.isalpha():
        raise invalid(
            f"Invalid currency: {raw.lower()}. Stripe currently supports these currencies: "
            "usd, eur, gbp, jpy, …",
            param=name,
        )
    return raw.lower()


def check_minimum(amount: int, cur: str, param: str = "amount") -> None:
    minimum = _MINIMUMS.get(cur)
    if minimum is not None and amount < minimum:
        shown = f"{minimum}" if cur == "jpy" else f"{minimum / 100:.2f}"
        raise invalid(
            f"Amount must be at least {shown} {cur}", param=param, code="amount_too_small"
        )


def choice(p: dict[str, Any], name: str, allowed: set[str], default: str | None) -> str | None:
    value = text(p, name)
    if value is None:
        return default
    if value not in allowed:
        listed = ", ".join(f"`{a}`" for a in sorted(allowed))
        raise invalid(f"Invalid {name}: must be one of {listed}", param=name)
    return value


def metadata(p: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Stripe's metadata update: merge keys, an empty value deletes, `metadata=` clears."""
    merged = dict(current or {})
    raw = p.get("metadata")
    if raw is None:
        return merged
    if raw == "":
        return {}
    if not isinstance(raw, dict):
        raise invalid("Invalid metadata: must be a hash", param="metadata")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid(f"Invalid metadata[{key}]", param=f"metadata[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def expand(request: web.Request, obj: Obj) -> Obj:
    wanted = params(request).get("expand") or []
    if not isinstance(wanted, list) or not wanted:
        return obj
    out = copy.deepcopy(obj)
    store = emu(request).store
    for path in wanted:
        field = str(path)
        targets = [out]
        if out.get("object") == "list" and field.startswith("data."):
            field, targets = field[5:], out["data"]
        for target in targets:
            if field not in _EXPANDABLE or field not in target:
                raise invalid(f"This property cannot be expanded ({path}).", param="expand")
            value = target[field]
            if isinstance(value, str):
                target[field] = store.find(_EXPANDABLE[field], value)
    return out


def list_by_customer(request: web.Request, kind: str, url: str) -> web.Response:
    """A list route of Payment/SetupIntents, optionally filtered by `customer`."""
    p = params(request)
    customer = text(p, "customer")
    found = [
        obj
        for obj in emu(request).store.newest_first(kind)
        if customer is None or obj["customer"] == customer
    ]
    return answer(request, page(found, p, url))


def answer(request: web.Request, obj: Obj, status: int = 200) -> web.Response:
    return web.json_response(expand(request, obj), status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
