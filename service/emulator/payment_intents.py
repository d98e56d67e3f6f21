"""PaymentIntents: create, retrieve, update, confirm, cancel, capture, list."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from . import objects, payment_methods, payments
from .api import (
    answer,
    base_url,
    boolean,
    check_client_secret,
    check_minimum,
    choice,
    currency,
    emu,
    integer,
    list_by_customer,
    metadata,
    params,
    text,
)
from .errors import StripeError, invalid, unexpected_state
from .state import Emulator
from .store import Obj

routes = web.RouteTableDef()

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
UPDATABLE = CONFIRMABLE
# What may change only before the payment is made (metadata etc. may change later too).
FIXED_ONCE_PAID = ("amount", "currency", "customer", "payment_method", "setup_future_usage")
USAGES = {"on_session", "off_session"}
REASONS = {"duplicate", "fraudulent", "requested_by_customer", "abandoned"}


def _pi(request: web.Request) -> Obj:
    return emu(request).store.get("payment_intent", request.match_info["id"])


def _check_secret(request: web.Request, pi: Obj) -> None:
    check_client_secret(request, pi, "PaymentIntent")


def _payment_method(emulator: Emulator, pi: Obj, p: dict[str, Any]) -> Obj | None:
    try:
        return payment_methods.for_intent(emulator, pi, p)
    except StripeError as exc:
        # Only card details refused by Stripe (`payment_method_data`) answer 402 here.
        if exc.status != 402 or emulator.store.find("payment_intent", pi["id"]) is None:
            raise  # (an intent still being created is simply not created)
        # Stripe records an invalid card on the PaymentIntent, without a charge.
        payments.fail(
            emulator, pi, {"type": "card_error", "code": exc.code, "message": exc.message}
        )
        exc.extra["payment_intent"] = copy.deepcopy(pi)
        raise


def _confirm(request: web.Request, pi: Obj) -> web.Response:
    p = params(request)
    emulator = emu(request)
    if pi["status"] not in CONFIRMABLE:
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of "
            f"{pi['status']}. Only a PaymentIntent with one of the following statuses may "
            "be confirmed: requires_payment_method, requires_confirmation, requires_action.",
            "payment_intent",
            copy.deepcopy(pi),
        )
    return_url = text(p, "return_url")
    if return_url:
        emulator.store.set_return_url(pi["id"], return_url)
    pm = _payment_method(emulator, pi, p)
    if pm is None:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "You can either update the PaymentIntent with a payment method and then "
            "confirm it again, or confirm it again directly with a payment method.",
            "payment_intent",
            copy.deepcopy(pi),
        )
    error = payments.confirm(emulator, pi, pm, base_url(request), _off_session(p))
    if error is not None:
        raise error
    return answer(request, pi)


def _off_session(p: dict[str, Any]) -> bool:
    """`off_session`: true/false, or Stripe's `one_off`/`recurring` (both off-session)."""
    value = text(p, "off_session")
    if value in (None, "false"):
        return False
    if value in ("true", "one_off", "recurring"):
        return True
    raise invalid(f"Invalid off_session: {value}", param="off_session")


def _allowed_types(p: dict[str, Any]) -> list[str] | None:
    """`allowed_payment_method_types` (API 2026-10+) or the older `payment_method_types`."""
    given = [n for n in ("allowed_payment_method_types", "payment_method_types") if n in p]
    if len(given) + ("automatic_payment_methods" in p) > 1:
        raise invalid(
            "You may only specify one of these parameters: automatic_payment_methods, "
            + ", ".join(given)
            + ".",
            param=given[0],
        )
    if not given:
        return None
    types = p[given[0]]
    if not isinstance(types, list) or types != ["card"]:
        raise invalid("The emulator supports only card payments.", param=given[0])
    return ["card"]


@routes.post("/v1/payment_intents")
async def create(request: web.Request) -> web.Response:
    p = params(request)
    emulator = emu(request)
    amount = integer(p, "amount", required=True) or 0
    cur = currency(p)
    check_minimum(amount, cur)
    capture = choice(
        p, "capture_method", {"automatic", "automatic_async", "manual"}, "automatic_async"
    )
    types = _allowed_types(p)
    pi = objects.payment_intent(amount, cur, capture or "automatic_async", types)
    customer = text(p, "customer")
    if customer is not None:
        emulator.store.get("customer", customer, "customer")
    pi.update(
        customer=customer,
        description=text(p, "description"),
        receipt_email=text(p, "receipt_email"),
        metadata=metadata(p),
        setup_future_usage=choice(p, "setup_future_usage", USAGES, None),
    )
    confirm = boolean(p, "confirm")
    if "off_session" in p and not confirm:
        raise invalid(
            "You may only specify `off_session` when `confirm` is also set to true.",
            param="off_session",
        )
    if not confirm and (p.get("payment_method") or p.get("payment_method_data")):
        pm = _payment_method(emulator, pi, p)
        pi.update(payment_method=pm["id"] if pm else None, status="requires_confirmation")
    emulator.store.put(pi)
    emulator.emit("payment_intent.created", pi)
    if confirm:
        return _confirm(request, pi)
    return answer(request, pi)


@routes.get("/v1/payment_intents/{id}")
async def retrieve(request: web.Request) -> web.Response:
    pi = _pi(request)
    _check_secret(request, pi)
    return answer(request, pi)


@routes.post("/v1/payment_intents/{id}")
async def update(request: web.Request) -> web.Response:
    p = params(request)
    pi = _pi(request)
    emulator = emu(request)
    fixed = [name for name in FIXED_ONCE_PAID if name in p]
    if pi["status"] not in UPDATABLE and fixed:
        raise unexpected_state(
            f"This PaymentIntent's {fixed[0]} could not be updated because it has a status "
            f"of {pi['status']}. You may only update the {fixed[0]} of a PaymentIntent with "
            "one of the following statuses: " + ", ".join(UPDATABLE) + ".",
            "payment_intent",
            copy.deepcopy(pi),
        )
    if "amount" in p:
        pi["amount"] = integer(p, "amount", required=True)
    if "currency" in p:
        pi["currency"] = currency(p)
    check_minimum(int(pi["amount"]), str(pi["currency"]))
    for name in ("description", "receipt_email"):
        if name in p:
            pi[name] = text(p, name)
    if "customer" in p:
        customer = text(p, "customer")
        if customer is not None:
            emulator.store.get("customer", customer, "customer")
        pi["customer"] = customer
    if "setup_future_usage" in p:
        pi["setup_future_usage"] = choice(p, "setup_future_usage", USAGES, None)
    if p.get("payment_method"):
        pm = _payment_method(emulator, pi, p)
        pi.update(payment_method=pm["id"] if pm else None, status="requires_confirmation")
    pi["metadata"] = metadata(p, pi["metadata"])
    return answer(request, pi)


@routes.post("/v1/payment_intents/{id}/confirm")
async def confirm(request: web.Request) -> web.Response:
    pi = _pi(request)
    _check_secret(request, pi)
    return _confirm(request, pi)


@routes.post("/v1/payment_intents/{id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    pi = _pi(request)
    reason = choice(params(request), "cancellation_reason", REASONS, None)
    if pi["status"] not in payments.CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be canceled: "
            + ", ".join(payments.CANCELABLE)
            + ".",
            "payment_intent",
            copy.deepcopy(pi),
        )
    if emu(request).store.session_of(pi["id"]) is not None:
        raise invalid(
            "This PaymentIntent was created by a Checkout Session and cannot be canceled "
            "directly. Expire the Checkout Session instead."
        )
    payments.cancel(emu(request), pi, reason)
    return answer(request, pi)


@routes.post("/v1/payment_intents/{id}/capture")
async def capture(request: web.Request) -> web.Response:
    pi = _pi(request)
    if pi["status"] != "requires_capture":
        raise unexpected_state(
            "This PaymentIntent could not be captured because it has a status of "
            f"{pi['status']}. Only a PaymentIntent with one of the following statuses may be "
            "captured: requires_capture.",
            "payment_intent",
            copy.deepcopy(pi),
        )
    capturable = int(pi["amount_capturable"])
    amount = integer(params(request), "amount_to_capture") or capturable
    if amount > capturable:
        raise invalid(
            f"The amount to capture ({amount}) is greater than the capturable amount "
            f"({capturable}).",
            param="amount_to_capture",
            code="amount_too_large",
        )
    payments.capture(emu(request), pi, amount)
    return answer(request, pi)


@routes.get("/v1/payment_intents")
async def list_(request: web.Request) -> web.Response:
    return list_by_customer(request, "payment_intent", "/v1/payment_intents")
