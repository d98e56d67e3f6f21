"""SetupIntents: save a card for later without paying (create, retrieve, confirm, cancel,
list). The outcomes are in `setups.py`."""

from __future__ import annotations

import copy

from aiohttp import web

from . import objects, payment_methods, setups
from .api import (
    answer,
    base_url,
    boolean,
    check_client_secret,
    choice,
    emu,
    list_by_customer,
    metadata,
    params,
    text,
)
from .errors import StripeError, invalid
from .store import Obj

routes = web.RouteTableDef()

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
REASONS = {"abandoned", "duplicate", "requested_by_customer"}


def _si(request: web.Request) -> Obj:
    return emu(request).store.get("setup_intent", request.match_info["id"])


def _unexpected_state(si: Obj, action: str, allowed: tuple[str, ...]) -> StripeError:
    return StripeError(
        400,
        "invalid_request_error",
        f"You cannot {action} this SetupIntent because it has a status of {si['status']}. "
        f"Only a SetupIntent with one of the following statuses may be {action}ed: "
        + ", ".join(allowed)
        + ".",
        code="setup_intent_unexpected_state",
        extra={"setup_intent": copy.deepcopy(si)},
    )


def _confirm(request: web.Request, si: Obj) -> web.Response:
    p = params(request)
    emulator = emu(request)
    if si["status"] not in CONFIRMABLE:
        raise _unexpected_state(si, "confirm", CONFIRMABLE)
    return_url = text(p, "return_url")
    if return_url:
        emulator.store.set_return_url(si["id"], return_url)
    pm = payment_methods.for_intent(emulator, si, p)
    if pm is None:
        raise StripeError(
            400,
            "invalid_request_error",
            "You cannot confirm this SetupIntent because it's missing a payment method. "
            "Update the SetupIntent with a payment method and then confirm it again.",
            code="setup_intent_unexpected_state",
            extra={"setup_intent": copy.deepcopy(si)},
        )
    error = setups.confirm(emulator, si, pm, base_url(request))
    if error is not None:
        raise error
    return answer(request, si)


@routes.post("/v1/setup_intents")
async def create(request: web.Request) -> web.Response:
    p = params(request)
    emulator = emu(request)
    customer = text(p, "customer")
    if customer is not None:
        emulator.store.get("customer", customer, "customer")
    types = p.get("payment_method_types")
    if types is not None and types != ["card"]:
        raise invalid("The emulator supports only card payments.", param="payment_method_types")
    usage = choice(p, "usage", {"on_session", "off_session"}, "off_session") or "off_session"
    si = objects.setup_intent(customer, usage, metadata(p))
    si["description"] = text(p, "description")
    confirm = boolean(p, "confirm")
    if not confirm and (p.get("payment_method") or p.get("payment_method_data")):
        pm = payment_methods.for_intent(emulator, si, p)
        si.update(payment_method=pm["id"] if pm else None, status="requires_confirmation")
    emulator.store.put(si)
    emulator.emit("setup_intent.created", si)
    if confirm:
        return _confirm(request, si)
    return answer(request, si)


@routes.get("/v1/setup_intents/{id}")
async def retrieve(request: web.Request) -> web.Response:
    si = _si(request)
    check_client_secret(request, si, "SetupIntent")
    return answer(request, si)


@routes.post("/v1/setup_intents/{id}")
async def update(request: web.Request) -> web.Response:
    si = _si(request)
    p = params(request)
    if "description" in p:
        si["description"] = text(p, "description")
    si["metadata"] = metadata(p, si["metadata"])
    return answer(request, si)


@routes.post("/v1/setup_intents/{id}/confirm")
async def confirm(request: web.Request) -> web.Response:
    si = _si(request)
    check_client_secret(request, si, "SetupIntent")
    return _confirm(request, si)


@routes.post("/v1/setup_intents/{id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    si = _si(request)
    reason = choice(params(request), "cancellation_reason", REASONS, None)
    if si["status"] not in setups.CANCELABLE:
        raise _unexpected_state(si, "cancel", setups.CANCELABLE)
    setups.cancel(emu(request), si, reason)
    return answer(request, si)


@routes.get("/v1/setup_intents")
async def list_(request: web.Request) -> web.Response:
    return list_by_customer(request, "setup_intent", "/v1/setup_intents")
