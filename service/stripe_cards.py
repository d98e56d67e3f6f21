"""The saved-card calls of the Stripe gateway: PaymentMethods, SetupIntents, confirming.

A mixin of ``StripeGateway`` (which keeps the client and ``_request``), so the gateway stays
one object and each module stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from service.payments.ports import GatewayPaymentIntent
from service.payments.saved_cards import GatewayCard, GatewaySetupIntent
from service.stripe_objects import payment_intent, ref


class _Requests(Protocol):
    async def _request(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]: ...


def path_segment(stripe_id: str) -> str:
    """An id placed in a URL path, escaped (it comes from our database or a webhook)."""
    return quote(stripe_id, safe="")


def gateway_card(raw: Mapping[str, Any]) -> GatewayCard:
    card = raw.get("card") or {}
    return GatewayCard(
        id=raw["id"],
        customer=ref(raw.get("customer")),
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        fingerprint=card.get("fingerprint"),
        created=int(raw.get("created") or 0),
    )


# Stripe's page ceiling; a customer with more saved cards than this sees the newest 100.
_PAGE = 100


class StripeCardCalls:
    async def list_payment_methods(self: _Requests, customer: str) -> list[GatewayCard]:
        page = await self._request(
            "customers.payment_methods.list",
            "get",
            f"/v1/customers/{path_segment(customer)}/payment_methods",
            {"type": "card", "limit": _PAGE},
        )
        return [gateway_card(pm) for pm in page["data"]]

    async def detach_payment_method(
        self: _Requests, payment_method_id: str, *, idempotency_key: str
    ) -> None:
        await self._request(
            "payment_methods.detach",
            "post",
            f"/v1/payment_methods/{path_segment(payment_method_id)}/detach",
            {},
            idempotency_key,
        )

    async def create_setup_intent(
        self: _Requests, *, customer: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> GatewaySetupIntent:
        params = {
            "customer": customer,
            "usage": "off_session",
            "metadata": dict(metadata),
        }
        raw = await self._request(
            "setup_intents.create", "post", "/v1/setup_intents", params, idempotency_key
        )
        return GatewaySetupIntent(
            id=raw["id"], status=raw["status"], client_secret=raw.get("client_secret")
        )

    async def confirm_payment_intent(
        self: _Requests,
        payment_intent_id: str,
        *,
        payment_method: str,
        off_session: bool,
        idempotency_key: str,
        return_url: str | None = None,
    ) -> GatewayPaymentIntent:
        params: dict[str, Any] = {"payment_method": payment_method}
        if off_session:
            params["off_session"] = True
        if return_url is not None:
            params["return_url"] = return_url
        raw = await self._request(
            "payment_intents.confirm",
            "post",
            f"/v1/payment_intents/{path_segment(payment_intent_id)}/confirm",
            params,
            idempotency_key,
        )
        return payment_intent(raw)
