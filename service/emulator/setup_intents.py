"""SetupIntents: save a card for later without paying (create, retrieve, confirm, cancel,
list). The outcomes are in `setups.py`."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from . import objects, payment_methods, saved_cards, setups
from .api import PUBLISHABLE, answer, base_url, boolean, choice, emu, metadata, params, text
from .errors import StripeError, invalid
from .state import Emulator
from .store import Obj, page

routes = web.RouteTableDef()

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
REASONS = {"abandoned", "duplicate", "requested_by_customer"}


def _si(request: web.Request) -> Obj:
    return emu(request).store.get("setup_intent", request.match_info["id"])


def _check_secret(request: web.Request, si: Obj) -> None:
    """A publishable key only works together with the SetupIntent's client_secret."""
    if request[PUBLISHABLE] and params(request).get("client_secret") != si["client_secret"]:
        raise invalid(
            "The client_secret provided does not match the client_secret associated "
            "with the SetupIntent.",
            param="client_secret",
        )


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


def _payment_method(emulator: Emulator, si: Obj, p: dict[str, Any]) -> Obj | None:
    data = p.get("payment_method_data")
    if isinstance(data, dict):
        pm, number = payment_methods.from_card(data.get("card"), data.get("billing_details"), {})
        return payment_methods.save(emulator, pm, number)
    ident = text(p, "payment_method")
    if ident is not None:
        pm = payment_methods.resolve(emulator, ident)
        saved_cards.check_usable(emulator, pm, si["customer"])
        return pm
    if si["payment_method"]:
        return emulator.store.get("payment_method", str(si["payment_method"]))
    return None


def _confirm(request: web.Request, si: Obj) -> web.Response:
    p = params(request)
    emulator = emu(request)
    if si["status"] not in CONFIRMABLE:
        raise _unexpected_state(si, "confirm", CONFIRMABLE)
    return_url = text(p, "return_url")
    if return_url:
        emulator.store.set_return_url(si["id"], return_url)
    pm = _payment_method(emulator, si, p)
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
        pm = _payment_method(emulator, si, p)
        si.update(payment_method=pm["id"] if pm else None, status="requires_confirmation")
    emulator.store.put(si)
    emulator.emit("setup_intent.created", si)
    if confirm:
        return _confirm(request, si)
    return answer(request, si)


@routes.get("/v1/setup_intents/{id}")
async def retrieve(request: web.Request) -> web.Response:
    si = _si(request)
    _check_secret(request, si)
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
    _check_secret(request, si)
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
    p = params(request)
    customer = text(p, "customer")
    found = [
        si
        for si in emu(request).store.newest_first("setup_intent")
        if customer is None or si["customer"] == customer
    ]
    return answer(request, page(found, p, "/v1/setup_intents"))
