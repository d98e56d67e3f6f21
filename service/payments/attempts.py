"""An attempt from a PaymentIntent event: Stripe ids, card, the whole error, our advice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.payments.declines import advise
from service.payments.models import AttemptOutcome, NewAttempt
from service.payments.stripe_objects import PaymentIntentObject, StripeEvent


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def attempt_of(
    outcome: AttemptOutcome, event: StripeEvent, intent: PaymentIntentObject
) -> NewAttempt:
    """The attempt an event with this attempt `outcome` records (``event_rules``): a
    failure's error and our advice on it; for an authentication asked for, that advice."""
    error: Mapping[str, Any] = (intent.error or {}) if outcome == "failed" else {}
    code, decline = _text(error.get("code")), _text(error.get("decline_code"))
    advice_code = _text(error.get("advice_code"))
    step, retryable, message = None, None, None
    if outcome == "requires_action":
        step, retryable, message = (
            "authenticate",
            True,
            "Your bank needs you to confirm this payment.",
        )
    elif outcome == "failed":
        advice = advise(code, decline, advice_code)
        step, retryable, message = advice.next_step, advice.retryable, advice.customer_message
    card = intent.card
    return NewAttempt(
        outcome=outcome,
        stripe_event_id=event.id,
        occurred_at=event.at,
        stripe_charge_id=intent.latest_charge,
        stripe_payment_method_id=intent.payment_method,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
        error_type=_text(error.get("type")),
        error_code=code,
        decline_code=decline,
        advice_code=advice_code,
        network_advice_code=_text(error.get("network_advice_code")),
        network_decline_code=_text(error.get("network_decline_code")),
        error_message=_text(error.get("message")),
        last_payment_error=dict(error) if error else None,
        advice_next_step=step,
        advice_retryable=retryable,
        advice_message=message,
    )
