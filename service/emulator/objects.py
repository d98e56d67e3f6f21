"""Builders for Stripe objects, with the top-level fields of Stripe's own examples."""

from __future__ import annotations

import hashlib
from typing import Any

from .cards import brand
from .store import Obj, new_id, now


def _address() -> Obj:
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return dict.fromkeys(keys)


def billing_details(raw: Any) -> Obj:
    raw = raw if isinstance(raw, dict) else {}
    address = _address()
    if isinstance(raw.get("address"), dict):
        address.update({k: v for k, v in raw["address"].items() if k in address})
    return {
        "address": address,
        "email": raw.get("email"),
        "name": raw.get("name"),
        "phone": raw.get("phone"),
        "tax_id": None,
    }


def customer(email: str | None, name: str | None, metadata: dict[str, str]) -> Obj:
    return {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": new_id("X", 6)[2:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
        "customer_account": None,
    }


def card(number: str, exp_month: int, exp_year: int) -> Obj:
    card_brand = brand(number)
    return {
        "brand": card_brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "unchecked",
        },
        "country": "US",
        "display_brand": card_brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": hashlib.sha256(number.encode()).hexdigest()[:16],
        "funding": "credit",
        "generated_from": None,
        "last4": number[-4:],
        "networks": {"available": [card_brand], "preferred": None},
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
        "regulated_status": "unregulated",
    }


def payment_method(card_obj: Obj, billing: Obj, metadata: dict[str, str]) -> Obj:
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing,
        "card": card_obj,
        "created": now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": metadata,
        "type": "card",
    }


def payment_intent(
    amount: int, currency: str, capture_method: str, allowed: list[str] | None
) -> Obj:
    """Without `allowed` types, automatic payment methods are on (Stripe's default)."""
    ident = new_id("pi")
    return {
        "id": ident,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "allowed_payment_method_types": allowed,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True}
        if allowed is None
        else None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": f"{ident}_secret_{new_id('s', 25)[2:]}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def setup_intent(customer: str | None, usage: str, metadata: dict[str, str]) -> Obj:
    ident = new_id("seti")
    return {
        "id": ident,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{ident}_secret_{new_id('s', 25)[2:]}",
        "created": now(),
        "customer": customer,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": usage,
    }


def event(type_: str, obj: Obj, api_version: str, request: Obj, previous: Obj | None) -> Obj:
    data: Obj = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": request,
        "type": type_,
    }


def webhook_endpoint(url: str, events: list[str], description: str | None, api_version: str) -> Obj:
    return {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": now(),
        "description": description,
        "enabled_events": events,
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": url,
    }
