"""An attempt from a PaymentIntent event: Stripe ids, card, the whole error, our advice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from service.payments.declines import advise
from service.payments.models import AttemptOutcome, NewAttempt
from service.payments.stripe_objects import PaymentIntentObject, StripeEvent


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def attempt_of(
    outcome: AttemptOutcome, event: StripeEvent, intent: PaymentIntentObject
) -> NewAttempt:
    """The attempt an event with this attempt `outcome` records (``event_rules``)."""
    card = intent.card
    common = NewAttempt(
        outcome=outcome,
        stripe_event_id=event.id,
        occurred_at=event.at,
        stripe_charge_id=intent.latest_charge,
        stripe_payment_method_id=intent.payment_method,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
    )
    if outcome == "requires_action":
        return replace(
            common,
            advice_next_step="authenticate",
            advice_retryable=True,
            advice_message="Your bank needs you to confirm this payment.",
        )
    if outcome != "failed":
        return common
    error: Mapping[str, Any] = intent.error or {}
    code, decline = _text(error.get("code")), _text(error.get("decline_code"))
    advice_code = _text(error.get("advice_code"))
    advice = advise(code, decline, advice_code)
    return replace(
        common,
        error_type=_text(error.get("type")),
        error_code=code,
        decline_code=decline,
        advice_code=advice_code,
        network_advice_code=_text(error.get("network_advice_code")),
        network_decline_code=_text(error.get("network_decline_code")),
        error_message=_text(error.get("message")),
        last_payment_error=_without_payment_method(error) if error else None,
        advice_next_step=advice.next_step,
        advice_retryable=advice.retryable,
        advice_message=advice.customer_message,
    )


def _without_payment_method(error: Mapping[str, Any]) -> dict[str, Any]:
    """The whole error, with the embedded payment method reduced to its id (no card data)."""
    kept = dict(error)
    method = kept.get("payment_method")
    if isinstance(method, dict):
        inner = method.get("id")
        kept["payment_method"] = inner if isinstance(inner, str) else None
    return kept
