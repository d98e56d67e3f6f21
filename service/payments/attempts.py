"""An attempt row from a PaymentIntent event: Stripe ids, card, the whole error, our advice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.payments.declines import advise
from service.payments.states import attempt_outcome


def _id(value: Any) -> str | None:
    """Stripe fields are an id or, when expanded, the object itself."""
    if isinstance(value, dict):
        inner = value.get("id")
        return inner if isinstance(inner, str) else None
    return value if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _card(intent: dict[str, Any], error: dict[str, Any]) -> tuple[str | None, str | None]:
    for source in (error.get("payment_method"), intent.get("payment_method")):
        if isinstance(source, dict) and isinstance(source.get("card"), dict):
            card = source["card"]
            last4 = card.get("last4")
            return _text(card.get("brand")), last4 if isinstance(last4, str) else None
    return None, None


def card_of_charge(charge: dict[str, Any]) -> tuple[str | None, str | None]:
    """(brand, last4) from a charge's payment_method_details, when it is a card."""
    details = charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, dict) else None
    if not isinstance(card, dict):
        return None, None
    last4 = card.get("last4")
    return _text(card.get("brand")), last4 if isinstance(last4, str) else None


def attempt_from_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """Columns of ``payment_attempts`` for this event, or None if it is not an attempt."""
    outcome = attempt_outcome(str(event.get("type")))
    if outcome is None:
        return None
    intent: dict[str, Any] = event["data"]["object"]
    raw_error = intent.get("last_payment_error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    brand, last4 = _card(intent, error)
    fields: dict[str, Any] = {
        "outcome": outcome,
        "stripe_event_id": event["id"],
        "stripe_charge_id": _id(intent.get("latest_charge")) or _id(error.get("charge")),
        "stripe_payment_method_id": _id(intent.get("payment_method"))
        or _id(error.get("payment_method")),
        "card_brand": brand,
        "card_last4": last4,
        "occurred_at": datetime.fromtimestamp(int(event["created"]), UTC),
    }
    if outcome == "failed":
        advice = advise(
            _text(error.get("code")),
            _text(error.get("decline_code")),
            _text(error.get("advice_code")),
        )
        fields |= {
            "error_type": _text(error.get("type")),
            "error_code": _text(error.get("code")),
            "decline_code": _text(error.get("decline_code")),
            "advice_code": _text(error.get("advice_code")),
            "network_advice_code": _text(error.get("network_advice_code")),
            "network_decline_code": _text(error.get("network_decline_code")),
            "error_message": _text(error.get("message")),
            "last_payment_error": _without_payment_method(error) if error else None,
            "advice_next_step": advice.next_step,
            "advice_retryable": advice.retryable,
            "advice_message": advice.customer_message,
        }
    elif outcome == "requires_action":
        fields |= {
            "advice_next_step": "authenticate",
            "advice_retryable": True,
            "advice_message": "Your bank needs you to confirm this payment.",
        }
    return fields


def _without_payment_method(error: dict[str, Any]) -> dict[str, Any]:
    """The whole error, with the embedded payment method reduced to its id (no card data)."""
    kept = dict(error)
    if isinstance(kept.get("payment_method"), dict):
        kept["payment_method"] = _id(kept["payment_method"])
    return kept
