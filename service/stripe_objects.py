"""Stripe's JSON objects read into the port's frozen records (``payments/ports.py``)."""

from __future__ import annotations

from typing import Any, cast

from service.payments.ports import GatewayCheckoutSession, GatewayPaymentIntent, GatewayRefund


def checkout_session(raw: dict[str, Any]) -> GatewayCheckoutSession:
    return GatewayCheckoutSession(
        id=raw["id"],
        url=raw.get("url") or "",
        expires_at=raw["expires_at"],
        payment_intent=ref(raw.get("payment_intent")),
        status=raw.get("status") or "open",
        payment_status=raw.get("payment_status") or "unpaid",
        raw=raw,
    )


def ref(value: Any) -> str | None:
    """The id of an expandable field, whether Stripe sent the id or the object."""
    if isinstance(value, dict):
        return cast(str | None, value.get("id"))
    return cast(str | None, value)


def payment_intent(raw: dict[str, Any]) -> GatewayPaymentIntent:
    return GatewayPaymentIntent(
        id=raw["id"],
        status=raw["status"],
        amount=raw["amount"],
        currency=raw["currency"],
        client_secret=raw.get("client_secret"),
        created=raw["created"],
        amount_received=raw.get("amount_received") or 0,
        amount_capturable=raw.get("amount_capturable") or 0,
        capture_method=raw.get("capture_method") or "automatic",
        cancellation_reason=raw.get("cancellation_reason"),
        latest_charge=ref(raw.get("latest_charge")),
        last_payment_error=raw.get("last_payment_error"),
        metadata=dict(raw.get("metadata") or {}),
        raw=raw,
    )


def refund(raw: dict[str, Any]) -> GatewayRefund:
    return GatewayRefund(
        id=raw["id"],
        amount=raw["amount"],
        currency=raw["currency"],
        status=raw.get("status") or "pending",
        payment_intent=ref(raw.get("payment_intent")),
        failure_reason=raw.get("failure_reason"),
        raw=raw,
    )
