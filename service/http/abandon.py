"""``POST /api/payments/{id}/abandon``: the customer gives up its own open hosted Checkout.

Stripe's ``cancel_url`` brings a customer back who chose not to pay on the hosted page;
while the Checkout Session stays open the order cannot be paid another way. The browser
that opened it holds the payment's status token (in the ``X-Status-Token`` header, never
the query string, for a change), and with it may abandon the session: the service expires
it at Stripe, the payment is canceled as ``abandoned`` and the order is free at once.
Only a hosted (Checkout) payment can be abandoned this way; anything else is the
merchant's to cancel with its API key.
"""

from __future__ import annotations

from aiohttp import web

from service import errors
from service.http import auth
from service.http.payments import payment_id_param
from service.http.serialize import payment_out
from service.keys import AUTH, GATEWAY, STORE
from service.payments.cancel_payment import cancel_payment


async def abandon(request: web.Request) -> web.Response:
    payment_id = payment_id_param(request)
    config = request.app[AUTH]
    if not auth.has_api_key(request, config):
        token = request.headers.get("X-Status-Token")
        if not token:
            raise errors.Unauthenticated(
                "The payment's status token is required (X-Status-Token).",
                code="credentials_required",
            )
        auth.check_status_token(config, token, payment_id)
    store = request.app[STORE]
    async with store.transaction() as tx:
        payment = await tx.get_payment(payment_id)
    if payment is None:
        raise errors.NotFound("No such payment.", code="payment_not_found")
    if payment.flow != "checkout_session":
        raise errors.Conflict(
            "Only a payment on the hosted Checkout page can be abandoned.",
            code="payment_not_abandonable",
            details={"flow": payment.flow},
        )
    canceled = await cancel_payment(
        payment_id, "abandoned", store=store, gateway=request.app[GATEWAY]
    )
    return web.json_response(text=payment_out(canceled).model_dump_json())
