"""Charges (retrieve, list) and refunds (create, retrieve, list).

Card 4000000000005126 (`pm_card_refundFail`): refunds start `succeeded` and fail
`processing_delay` seconds later (`refund.updated`, `refund.failed`), as Stripe documents.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import charge_objects
from .api import answer, choice, emu, integer, metadata, params, text
from .cards import Behaviour, behaviour
from .errors import invalid
from .state import Emulator
from .store import Obj, new_id, page

routes = web.RouteTableDef()


def _money(amount: int, cur: str) -> str:
    return f"${amount / 100:.2f}" if cur == "usd" else f"{amount} {cur}"


def _charge_to_refund(emulator: Emulator, p: dict[str, object]) -> Obj:
    pi_id, ch_id = text(p, "payment_intent"), text(p, "charge")
    if pi_id is None and ch_id is None:
        raise invalid(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            param="charge",
            code="parameter_missing",
        )
    if ch_id is None:
        pi = emulator.store.get("payment_intent", str(pi_id), "payment_intent")
        if pi["status"] != "succeeded" or not pi["latest_charge"]:
            raise invalid(
                f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        ch_id = str(pi["latest_charge"])
    ch = emulator.store.get("charge", ch_id, "charge")
    if ch["status"] != "succeeded" or not ch["captured"]:
        raise invalid(
            f"Charge {ch['id']} has not been captured and cannot be refunded.", param="charge"
        )
    return ch


@routes.post("/v1/refunds")
async def create(request: web.Request) -> web.Response:
    p = params(request)
    emulator = emu(request)
    ch = _charge_to_refund(emulator, p)
    left = int(ch["amount_captured"]) - int(ch["amount_refunded"])
    if left <= 0:
        raise invalid(
            f"Charge {ch['id']} has already been refunded.",
            param="charge",
            code="charge_already_refunded",
        )
    amount = integer(p, "amount") or left
    if amount > left:
        raise invalid(
            f"Refund amount ({_money(amount, ch['currency'])}) is greater than unrefunded "
            f"amount on charge ({_money(left, ch['currency'])})",
            param="amount",
        )
    reason = choice(p, "reason", {"duplicate", "fraudulent", "requested_by_customer"}, None)
    refund = emulator.store.put(charge_objects.refund(ch, amount, reason, metadata(p)))
    _apply(ch, amount)
    ch["refunds"]["data"].insert(0, refund)
    emulator.emit("refund.created", refund)
    emulator.emit("charge.refunded", ch)
    number = emulator.store.card_number(str(ch["payment_method"]))
    if behaviour(number) is Behaviour.REFUND_FAIL:
        emulator.spawn(_fail_later(emulator, refund["id"]))
    return answer(request, refund)


def _apply(ch: Obj, amount: int) -> None:
    ch["amount_refunded"] = int(ch["amount_refunded"]) + amount
    ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]


async def _fail_later(emulator: Emulator, refund_id: str) -> None:
    await asyncio.sleep(emulator.config.processing_delay)
    refund = emulator.store.get("refund", refund_id)
    ch = emulator.store.get("charge", str(refund["charge"]))
    previous = {"status": refund["status"]}
    refund.update(status="failed", failure_reason="expired_or_canceled_card")
    # Stripe books the failed refund back with its own balance transaction.
    refund["failure_balance_transaction"] = new_id("txn")
    _apply(ch, -int(refund["amount"]))
    emulator.emit("refund.updated", refund, previous)
    emulator.emit("refund.failed", refund)


@routes.get("/v1/refunds/{id}")
async def retrieve(request: web.Request) -> web.Response:
    return answer(request, emu(request).store.get("refund", request.match_info["id"]))


def _filtered(request: web.Request, kind: str, fields: tuple[str, ...]) -> list[Obj]:
    p = params(request)
    wanted = {f: text(p, f) for f in fields}
    return [
        o
        for o in emu(request).store.newest_first(kind)
        if all(v is None or o.get(f) == v for f, v in wanted.items())
    ]


@routes.get("/v1/refunds")
async def list_(request: web.Request) -> web.Response:
    found = _filtered(request, "refund", ("charge", "payment_intent"))
    return answer(request, page(found, params(request), "/v1/refunds"))


@routes.get("/v1/charges/{id}")
async def retrieve_charge(request: web.Request) -> web.Response:
    return answer(request, emu(request).store.get("charge", request.match_info["id"]))


@routes.get("/v1/charges")
async def list_charges(request: web.Request) -> web.Response:
    found = _filtered(request, "charge", ("payment_intent", "customer"))
    return answer(request, page(found, params(request), "/v1/charges"))
