"""Checkout Sessions in payment mode: create, retrieve, list, expire, line items.

Creating a session creates its PaymentIntent at once, so events can be mapped to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from . import objects, payments
from .api import answer, base_url, check_minimum, currency, emu, integer, metadata, params, text
from .errors import invalid
from .state import Emulator
from .store import Obj, new_id, now, page

routes = web.RouteTableDef()

DAY = 24 * 3600


def _line_item(raw: Any, index: int) -> Obj:
    param = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise invalid(f"Invalid {param}.", param=param)
    if "price" in raw:
        raise invalid(
            "The emulator supports only price_data, not price ids.", param=f"{param}[price]"
        )
    data = raw.get("price_data")
    if not isinstance(data, dict):
        raise invalid(
            f"Missing required param: {param}[price_data].",
            param=f"{param}[price_data]",
            code="parameter_missing",
        )
    cur = currency(data)
    unit = integer(data, "unit_amount", required=True, minimum=0) or 0
    quantity = integer(raw, "quantity", required=True) or 1
    product = data.get("product_data")
    name = product.get("name") if isinstance(product, dict) else None
    if not isinstance(name, str) or not name:
        raise invalid(
            f"Missing required param: {param}[price_data][product_data][name].",
            param=f"{param}[price_data][product_data][name]",
            code="parameter_missing",
        )
    price = {
        "id": new_id("price"),
        "object": "price",
        "active": False,
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": cur,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": new_id("prod", 14),
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit,
        "unit_amount_decimal": str(unit),
    }
    total = unit * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": cur,
        "description": name,
        "metadata": {},
        "price": price,
        "quantity": quantity,
    }


def _session(p: dict[str, Any], items: list[Obj], expires_at: int) -> Obj:
    ident = new_id("cs_test", 58)
    total = sum(int(i["amount_total"]) for i in items)
    success_url = text(p, "success_url")
    if success_url:
        success_url = success_url.replace("{CHECKOUT_SESSION_ID}", ident)
    return {
        "id": ident,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "allowed_payment_method_types": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": text(p, "cancel_url"),
        "client_reference_id": text(p, "client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now(),
        "currency": items[0]["currency"],
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": text(p, "customer"),
        "customer_account": None,
        "customer_creation": None if p.get("customer") else "if_required",
        "customer_details": None,
        "customer_email": text(p, "customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": None,
        "managed_payments": None,
        "metadata": metadata(p),
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
        "wallet_options": None,
    }


def _expires_at(emulator: Emulator, p: dict[str, Any]) -> int:
    value = integer(p, "expires_at")
    if value is None:
        return now() + DAY
    # A few seconds of grace for the caller's clock and the request's travel time.
    shortest = emulator.config.min_session_lifetime - 5
    if not now() + shortest <= value <= now() + DAY:
        raise invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
            param="expires_at",
        )
    return value


@routes.post("/v1/checkout/sessions")
async def create(request: web.Request) -> web.Response:
    p = params(request)
    emulator = emu(request)
    if text(p, "mode", required=True) != "payment":
        raise invalid("The emulator supports only mode=payment.", param="mode")
    raw_items = p.get("line_items")
    if not isinstance(raw_items, list) or not raw_items:
        raise invalid(
            "Missing required param: line_items.", param="line_items", code="parameter_missing"
        )
    items = [_line_item(raw, i) for i, raw in enumerate(raw_items)]
    if len({i["currency"] for i in items}) > 1:
        raise invalid("All line items must use the same currency.", param="line_items")
    if p.get("customer") and p.get("customer_email"):
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
        )
    if p.get("customer"):
        emulator.store.get("customer", str(p["customer"]), "customer")
    session = _session(p, items, _expires_at(emulator, p))
    if session["amount_total"] < 1:
        raise invalid("The Checkout Session's total amount must be positive.", param="line_items")
    check_minimum(int(session["amount_total"]), str(session["currency"]), "line_items")
    pi_data = p.get("payment_intent_data")
    pi_data = pi_data if isinstance(pi_data, dict) else {}
    # As Stripe does (API 2022-08-01 on), the PaymentIntent is made when the customer
    # pays (``payment_intent_for``); until then `payment_intent` is null.
    session.update(url=f"{base_url(request)}/c/pay/{session['id']}")
    pi_fields = {"metadata": metadata(pi_data), "description": text(pi_data, "description")}
    emulator.store.add_session(session, items, pi_fields)
    return answer(request, session)


def payment_intent_for(emulator: Emulator, session: Obj) -> Obj:
    """The session's PaymentIntent, made on the customer's first payment attempt."""
    if session["payment_intent"] is not None:
        return emulator.store.get("payment_intent", str(session["payment_intent"]))
    data = emulator.store.session_pi_data(session["id"])
    pi = objects.payment_intent(
        int(session["amount_total"]), str(session["currency"]), "automatic_async", ["card"]
    )
    pi.update(
        customer=session["customer"],
        metadata=dict(data.get("metadata") or {}),
        description=data.get("description"),
    )
    session["payment_intent"] = pi["id"]
    emulator.store.put(pi)
    emulator.store.link_session(pi["id"], session["id"])
    emulator.emit("payment_intent.created", pi)
    return pi


@routes.get("/v1/checkout/sessions/{id}")
async def retrieve(request: web.Request) -> web.Response:
    return answer(request, emu(request).store.get("checkout.session", request.match_info["id"]))


@routes.get("/v1/checkout/sessions")
async def list_(request: web.Request) -> web.Response:
    p = params(request)
    pi_id = text(p, "payment_intent")
    found = [
        s
        for s in emu(request).store.newest_first("checkout.session")
        if pi_id is None or s["payment_intent"] == pi_id
    ]
    return answer(request, page(found, p, "/v1/checkout/sessions"))


@routes.get("/v1/checkout/sessions/{id}/line_items")
async def line_items(request: web.Request) -> web.Response:
    session = emu(request).store.get("checkout.session", request.match_info["id"])
    items = emu(request).store.line_items(session["id"])
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    return answer(request, page(items, params(request), url))


def expire(emulator: Emulator, session: Obj) -> None:
    if session["payment_intent"] is not None:  # someone tried to pay
        pi = emulator.store.get("payment_intent", str(session["payment_intent"]))
        if pi["status"] in payments.CANCELABLE:
            payments.cancel(emulator, pi, "abandoned")
    session.update(status="expired", url=None)
    emulator.emit("checkout.session.expired", session)


@routes.post("/v1/checkout/sessions/{id}/expire")
async def expire_session(request: web.Request) -> web.Response:
    session = emu(request).store.get("checkout.session", request.match_info["id"])
    if session["status"] != "open":
        raise invalid(
            f'Only Checkout Sessions with a status in ["open"] can be expired. This '
            f"session has a status of {session['status']}."
        )
    expire(emu(request), session)
    return answer(request, session)


async def sweep_expired(emulator: Emulator) -> None:
    """Expire open sessions whose `expires_at` has passed (runs for the app's lifetime)."""
    while True:
        await asyncio.sleep(emulator.config.expiry_sweep_interval)
        for session in emulator.store.newest_first("checkout.session"):
            if session["status"] == "open" and session["expires_at"] <= now():
                expire(emulator, session)
