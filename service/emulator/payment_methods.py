"""PaymentMethods from card details or Stripe's `pm_card_*` ids; retrieve; attach, detach
and list a customer's saved cards."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import objects, saved_cards
from .api import answer, emu, metadata, params, text
from .cards import INCORRECT_NUMBER, PM_IDS, luhn_ok
from .errors import StripeError, invalid, missing
from .state import Emulator
from .store import Obj, page

routes = web.RouteTableDef()


def card_error_for_number() -> StripeError:
    d = INCORRECT_NUMBER
    return StripeError(402, "card_error", d.message, code=d.code, param="card[number]", saved=True)


def from_card(raw: Any, billing: Any, meta: dict[str, str]) -> tuple[Obj, str]:
    """Build (not store) a card PaymentMethod, validating as Stripe does."""
    if not isinstance(raw, dict):
        raise invalid("Missing required param: card.", param="card", code="parameter_missing")
    number = str(raw.get("number", "")).replace(" ", "")
    if not number:
        raise invalid(
            "Missing required param: card[number].",
            param="card[number]",
            code="parameter_missing",
        )
    if not luhn_ok(number):
        raise card_error_for_number()
    try:
        month, year = int(raw.get("exp_month", "")), int(raw.get("exp_year", ""))
    except ValueError:
        raise StripeError(
            402,
            "card_error",
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="card[exp_month]",
        ) from None
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        raise StripeError(
            402,
            "card_error",
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="card[exp_month]",
        )
    if year < time.gmtime().tm_year or year > 2100:
        raise StripeError(
            402,
            "card_error",
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            param="card[exp_year]",
        )
    card = objects.card(number, month, year)
    return objects.payment_method(card, objects.billing_details(billing), meta), number


def save(emulator: Emulator, pm: Obj, number: str) -> Obj:
    # The full number never appears in answers; it decides the card's behaviour.
    emulator.store.add_card(pm, number)
    return pm


def resolve(emulator: Emulator, ident: str, param: str = "payment_method") -> Obj:
    """A stored PaymentMethod, or a fresh one for a `pm_card_*` test id (as Stripe does)."""
    if ident in PM_IDS:
        raw = {"number": PM_IDS[ident], "exp_month": "12", "exp_year": "2034"}
        return save(emulator, *from_card(raw, None, {}))
    pm = emulator.store.find("payment_method", ident)
    if pm is None:
        raise missing("PaymentMethod", ident, param)
    return pm


def for_intent(emulator: Emulator, intent: Obj, p: dict[str, Any]) -> Obj | None:
    """The card a Payment/SetupIntent is confirmed with: new card details
    (`payment_method_data`), a PaymentMethod id, or the one it already has."""
    data = p.get("payment_method_data")
    if isinstance(data, dict):
        return save(emulator, *from_card(data.get("card"), data.get("billing_details"), {}))
    ident = text(p, "payment_method")
    if ident is not None:
        pm = resolve(emulator, ident)
        saved_cards.check_usable(emulator, pm, intent["customer"])
        return pm
    if intent["payment_method"]:
        return emulator.store.get("payment_method", str(intent["payment_method"]))
    return None


@routes.post("/v1/payment_methods")
async def create(request: web.Request) -> web.Response:
    p = params(request)
    if text(p, "type", required=True) != "card":
        raise invalid("Only `type=card` is supported by the emulator.", param="type")
    pm = save(emu(request), *from_card(p.get("card"), p.get("billing_details"), metadata(p)))
    return answer(request, pm)


@routes.get("/v1/payment_methods/{id}")
async def retrieve(request: web.Request) -> web.Response:
    pm = resolve(emu(request), request.match_info["id"], "id")
    return answer(request, pm)


@routes.post("/v1/payment_methods/{id}/attach")
async def attach(request: web.Request) -> web.Response:
    p = params(request)
    customer_id = text(p, "customer", required=True) or ""
    emulator = emu(request)
    emulator.store.get("customer", customer_id, "customer")
    pm = resolve(emulator, request.match_info["id"], "id")
    saved_cards.attach(emulator, pm, customer_id)
    return answer(request, pm)


@routes.post("/v1/payment_methods/{id}/detach")
async def detach(request: web.Request) -> web.Response:
    emulator = emu(request)
    pm = resolve(emulator, request.match_info["id"], "id")
    saved_cards.detach(emulator, pm)
    return answer(request, pm)


def _saved(request: web.Request, customer_id: str, param: str) -> web.Response:
    p = params(request)
    emulator = emu(request)
    emulator.store.get("customer", customer_id, param)
    kind = text(p, "type")
    found = [
        pm
        for pm in emulator.store.newest_first("payment_method")
        if pm["customer"] == customer_id and kind in (None, pm["type"])
    ]
    return answer(request, page(found, p, request.path))


@routes.get("/v1/payment_methods")
async def list_(request: web.Request) -> web.Response:
    """Only a customer's cards: Stripe lists nothing else for a plain account."""
    customer_id = text(params(request), "customer")
    if customer_id is None:
        return answer(request, page([], params(request), request.path))
    return _saved(request, customer_id, "customer")


@routes.get("/v1/customers/{id}/payment_methods")
async def list_for_customer(request: web.Request) -> web.Response:
    return _saved(request, request.match_info["id"], "customer")
