"""Saved cards over HTTP: list, remove, save without paying, and pay with one."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from pydantic import BaseModel

from service import errors
from service.http import auth
from service.http.card_schemas import (
    PAYMENT_METHOD_PATTERN,
    PayWithCardIn,
    SavedCardListOut,
    SetupIntentOut,
    card_paid_out,
    saved_card_out,
)
from service.http.parsing import parse_json
from service.http.payments import payment_id_param
from service.http.session_auth import require_user, session_may_read
from service.keys import AUTH, CARD_GATEWAY, GATEWAY, SETTINGS, STORE
from service.payments.card_use_cases import (
    CardPaid,
    PayWithCard,
    list_cards,
    pay_with_card,
    remove_card,
    start_card_setup,
)
from service.payments.create_payment import CustomerInfo, check_redirect
from service.payments.saved_cards import SavedCard

log = logging.getLogger(__name__)

_PM = re.compile(PAYMENT_METHOD_PATTERN)
_MAX_EXTERNAL_ID = 200


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)


def _list(cards: list[SavedCard], *, for_customer: bool) -> web.Response:
    return _json(
        SavedCardListOut(data=[saved_card_out(c, for_customer=for_customer) for c in cards])
    )


async def my_cards(request: web.Request) -> web.Response:
    user = await require_user(request)
    cards = await list_cards(
        user.user_id, store=request.app[STORE], cards=request.app[CARD_GATEWAY]
    )
    return _list(cards, for_customer=True)


async def customer_cards(request: web.Request) -> web.Response:
    auth.require_api_key(request, request.app[AUTH])
    external_id = request.match_info["external_id"]
    if not 1 <= len(external_id) <= _MAX_EXTERNAL_ID:
        raise errors.NotFound("No such customer.", code="customer_not_found")
    cards = await list_cards(external_id, store=request.app[STORE], cards=request.app[CARD_GATEWAY])
    return _list(cards, for_customer=False)


async def remove_my_card(request: web.Request) -> web.Response:
    user = await require_user(request)
    payment_method = request.match_info["payment_method_id"]
    if not _PM.match(payment_method):
        raise errors.NotFound("No such saved card.", code="card_not_found")
    await remove_card(
        user.user_id, payment_method, store=request.app[STORE], cards=request.app[CARD_GATEWAY]
    )
    return web.Response(status=204)


async def create_setup_intent(request: web.Request) -> web.Response:
    user = await require_user(request)
    setup = await start_card_setup(
        CustomerInfo(external_id=user.user_id),
        store=request.app[STORE],
        gateway=request.app[GATEWAY],
        cards=request.app[CARD_GATEWAY],
    )
    if setup.client_secret is None:
        raise errors.Unavailable(
            "Stripe answered without a client secret; retry.", code="stripe_unavailable"
        )
    return _json(
        SetupIntentOut(
            setup_intent_id=setup.id, client_secret=setup.client_secret, status=setup.status
        ),
        status=201,
    )


async def confirm_with_card(request: web.Request) -> web.Response:
    """By an API key, or the payment's own customer (session token, or the status token of
    a payment that has a customer: the use case refuses one without)."""
    payment_id = payment_id_param(request)
    api_key = auth.has_api_key(request, request.app[AUTH])
    if not api_key and not await session_may_read(request, payment_id):
        auth.authorize_read(request, request.app[AUTH], payment_id)
    body = await parse_json(request, PayWithCardIn)
    if body.off_session and not api_key:
        raise errors.Forbidden(
            "Only an API key may charge a saved card off-session.",
            code="off_session_not_allowed",
            details={"field": "off_session"},
        )
    if body.return_url is not None:
        origins = request.app[SETTINGS].allowed_redirect_origins
        check_redirect(body.return_url, origins, "return_url")
    paid = await pay_with_card(
        PayWithCard(payment_id, body.payment_method, body.off_session, body.return_url),
        store=request.app[STORE],
        gateway=request.app[GATEWAY],
        cards=request.app[CARD_GATEWAY],
    )
    if body.off_session and paid.customer_must_authenticate:
        customer_must_return(paid)
    return _json(card_paid_out(paid, for_customer=not api_key))


def customer_must_return(paid: CardPaid) -> None:
    """An off-session charge needs the customer (authentication_required): the merchant
    must bring them back on-session. The merchant notification itself comes from the
    outbox when Stripe's payment_failed webhook lands (``payment.attempt_failed``, its
    attempt saying ``authenticate``); this line is the operator's trace of it."""
    log.warning(
        "off-session charge needs the customer to authenticate",
        extra={"payment_id": str(paid.payment.id), "order_id": paid.payment.order_id},
    )
