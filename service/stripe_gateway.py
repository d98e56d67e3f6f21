"""`PaymentGateway` over stripe-python's async client.

The `stripe_*.py` modules are the only ones that import `stripe`: this one makes the
calls, `stripe_transport` carries them, `stripe_objects` reads the answers and
`stripe_errors` turns failures into the service's errors.

Retries: stripe-python retries connection errors, 409 and 5xx answers itself
(`max_network_retries`, exponential backoff from 0.5 s). The request headers, including
`Idempotency-Key`, are built once before its retry loop, so every attempt of one call
carries the same key and Stripe replays instead of acting twice.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import stripe
from stripe.params import (
    CustomerCreateParams,
    EventListParams,
    PaymentIntentCancelParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
)
from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

from service.errors import GatewayUnavailable
from service.payments.ports import (
    GatewayCheckoutSession,
    GatewayPaymentIntent,
    GatewayRefund,
    LineItem,
)
from service.stripe_cards import StripeCardCalls
from service.stripe_cards import path_segment as _path
from service.stripe_errors import gateway_error
from service.stripe_objects import checkout_session, payment_intent, refund
from service.stripe_transport import AIOHTTPClient

log = logging.getLogger(__name__)


# Stripe's page size ceiling, used when walking the events list.
_MAX_PAGE = 100


class StripeGateway(StripeCardCalls):
    """Stripe through one `StripeClient`; call `close()` once to release its HTTP session.
    The saved-card calls are in ``stripe_cards.StripeCardCalls``."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None,
        timeout_seconds: float = 10.0,
        max_network_retries: int = 2,
        on_call: Callable[[str, float, str], None] | None = None,
    ) -> None:
        self._on_call = on_call  # (operation, seconds, "ok" or the GatewayError class name)
        self._http = AIOHTTPClient(timeout_seconds)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def close(self) -> None:
        await self._http.close_async()

    async def create_customer(
        self, *, external_id: str, email: str | None, name: str | None, idempotency_key: str
    ) -> str:
        params: CustomerCreateParams = {"metadata": {"external_id": external_id}}
        if email is not None:
            params["email"] = email
        if name is not None:
            params["name"] = name
        customer = await self._request(
            "customers.create", "post", "/v1/customers", params, idempotency_key
        )
        return str(customer["id"])

    async def update_customer(
        self, customer_id: str, *, email: str | None, name: str | None, idempotency_key: str
    ) -> None:
        """Set the customer's email and name; None clears one (Stripe unsets on "")."""
        params = {"email": email or "", "name": name or ""}
        await self._request(
            "customers.update", "post", f"/v1/customers/{customer_id}", params, idempotency_key
        )

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        description: str | None,
        metadata: Mapping[str, str],
        capture_method: str,
        payment_method_types: Sequence[str] | None,
        idempotency_key: str,
        setup_future_usage: str | None = None,
    ) -> GatewayPaymentIntent:
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency,
            "metadata": dict(metadata),
            # Stripe validates the value; the port keeps it a plain string.
            "capture_method": cast(Any, capture_method),
        }
        if customer is not None:
            params["customer"] = customer
        if description is not None:
            params["description"] = description
        if setup_future_usage is not None:
            params["setup_future_usage"] = cast(Any, setup_future_usage)
        if payment_method_types is not None:
            # API 2026-09-30.endive made `payment_method_types` read-only (400
            # payment_method_types_no_longer_supported); this is its replacement.
            params["allowed_payment_method_types"] = cast(Any, list(payment_method_types))
        else:
            params["automatic_payment_methods"] = {"enabled": True}
        intent = await self._request(
            "payment_intents.create", "post", "/v1/payment_intents", params, idempotency_key
        )
        return payment_intent(intent)

    async def retrieve_payment_intent(self, payment_intent_id: str) -> GatewayPaymentIntent:
        intent = await self._request(
            "payment_intents.retrieve", "get", f"/v1/payment_intents/{_path(payment_intent_id)}"
        )
        return payment_intent(intent)

    async def cancel_payment_intent(
        self, payment_intent_id: str, *, reason: str | None, idempotency_key: str
    ) -> GatewayPaymentIntent:
        params: PaymentIntentCancelParams = {}
        if reason is not None:
            params["cancellation_reason"] = cast(Any, reason)
        intent = await self._request(
            "payment_intents.cancel",
            "post",
            f"/v1/payment_intents/{_path(payment_intent_id)}/cancel",
            params,
            idempotency_key,
        )
        return payment_intent(intent)

    async def create_checkout_session(
        self,
        *,
        currency: str,
        line_items: Sequence[LineItem],
        success_url: str,
        cancel_url: str,
        expires_at: int,
        customer: str | None,
        customer_email: str | None,
        client_reference_id: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> GatewayCheckoutSession:
        items: list[SessionCreateParamsLineItem] = [
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": item.unit_amount,
                    "product_data": {"name": item.name},
                },
                "quantity": item.quantity,
            }
            for item in line_items
        ]
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": items,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": expires_at,
            "client_reference_id": client_reference_id,
            "metadata": dict(metadata),
            # The same metadata on the PaymentIntent maps its webhooks back to our payment.
            "payment_intent_data": {"metadata": dict(metadata)},
        }
        # Stripe accepts only one of the two.
        if customer is not None:
            params["customer"] = customer
        elif customer_email is not None:
            params["customer_email"] = customer_email
        session = await self._request(
            "checkout.sessions.create", "post", "/v1/checkout/sessions", params, idempotency_key
        )
        return checkout_session(session)

    async def expire_checkout_session(
        self, session_id: str, *, idempotency_key: str
    ) -> GatewayCheckoutSession:
        session = await self._request(
            "checkout.sessions.expire",
            "post",
            f"/v1/checkout/sessions/{_path(session_id)}/expire",
            {},
            idempotency_key,
        )
        return checkout_session(session)

    async def retrieve_checkout_session(self, session_id: str) -> GatewayCheckoutSession:
        session = await self._request(
            "checkout.sessions.retrieve", "get", f"/v1/checkout/sessions/{_path(session_id)}"
        )
        return checkout_session(session)

    async def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        reason: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> GatewayRefund:
        params: RefundCreateParams = {
            "payment_intent": payment_intent_id,
            "amount": amount,
            "metadata": dict(metadata),
        }
        if reason is not None:
            params["reason"] = cast(Any, reason)
        raw = await self._request("refunds.create", "post", "/v1/refunds", params, idempotency_key)
        return refund(raw)

    async def list_events(
        self, *, created_after: int | None, starting_after: str | None, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Up to `limit` events oldest-first, and whether newer ones remain.

        Stripe lists newest-first. With a cursor (`starting_after`: the newest event id
        the caller has already seen) one `ending_before` request returns the `limit`
        events just newer than it; `created_after` is then ignored, as the cursor is the
        more precise watermark. Without one, the list filtered by `created[gt]` is walked
        back to its oldest end (Stripe keeps 30 days) keeping only the oldest `limit`;
        the caller continues with the newest id it got as the cursor.
        """
        if not 1 <= limit <= _MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {_MAX_PAGE}")
        if starting_after is not None:
            page = await self._request(
                "events.list",
                "get",
                "/v1/events",
                {"ending_before": starting_after, "limit": limit},
            )
            return list(reversed(page["data"])), bool(page["has_more"])

        params: EventListParams = {"limit": _MAX_PAGE}
        if created_after is not None:
            params["created"] = {"gt": created_after}
        oldest: deque[dict[str, Any]] = deque(maxlen=limit)
        total = 0
        while True:
            page = await self._request("events.list", "get", "/v1/events", params)
            oldest.extend(page["data"])
            total += len(page["data"])
            if not page["has_more"] or not page["data"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
        return list(reversed(oldest)), total > limit

    async def _request(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One call through the client (its encoding, retries and errors), logged and
        measured, every failure turned into a `GatewayError` (`stripe_errors`); its answer
        as the plain dict we keep. Building stripe-python's StripeObject tree only to turn it
        back into a dict was half of our overhead on creation (make bench, create)."""
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        started = time.perf_counter()
        try:
            response: stripe.StripeResponse = await self._client.raw_request_async(
                method, path, **(params or {}), **options
            )
        except stripe.StripeError as exc:
            error = gateway_error(exc)
            self._observe(operation, started, error.request_id, type(error).__name__)
            raise error from exc
        self._observe(operation, started, response.request_id, "ok")
        data = response.data
        if not isinstance(data, dict):
            raise GatewayUnavailable(
                f"Stripe answered {operation} with a non-object body",
                stripe_status=response.code,
                request_id=response.request_id,
            )
        return data

    def _observe(
        self, operation: str, started: float, request_id: str | None, outcome: str
    ) -> None:
        _log_call(operation, started, request_id, outcome)
        if self._on_call is not None:
            self._on_call(operation, time.perf_counter() - started, outcome)


def _log_call(operation: str, started: float, request_id: str | None, outcome: str) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.debug(
        "stripe %s: %s in %.1f ms (request id %s)", operation, outcome, elapsed_ms, request_id
    )


def verify_webhook_signature(
    payload: bytes, header: str, secrets: Sequence[str], tolerance: int = 300
) -> bool:
    """True when ``Stripe-Signature`` matches any of the secrets (several during rotation).

    ``verify_header`` checks only the HMAC and timestamp; parsing the body with
    ``json.loads`` afterwards is far cheaper than ``construct_event``.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False
