"""Builders for charges and refunds, with the top-level fields of Stripe's examples."""

from __future__ import annotations

from .cards import Decline
from .store import Obj, new_id, now


def _outcome(decline: Decline | None) -> Obj:
    if decline is None:
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 12,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    if decline.blocked:
        return {
            "advice_code": decline.advice_code,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "not_sent_to_network",
            "reason": "highest_risk_level",
            "risk_level": "highest",
            "risk_score": 95,
            "seller_message": "Stripe blocked this payment as too risky.",
            "type": "blocked",
        }
    return {
        "advice_code": decline.advice_code,
        "network_advice_code": None,
        "network_decline_code": decline.network_decline_code,
        "network_status": "declined_by_network",
        "reason": decline.decline_code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def charge(pi: Obj, pm: Obj, decline: Decline | None, captured: bool) -> Obj:
    ident = new_id("ch")
    pm_card = pm["card"]
    amount = int(pi["amount"])
    ok = decline is None
    return {
        "id": ident,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if ok and captured else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn") if ok and captured else None,
        "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "PAYLIVE EMULATOR",
        "captured": ok and captured,
        "created": now(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": _outcome(decline),
        "paid": ok,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": amount if ok else None,
                "brand": pm_card["brand"],
                "checks": pm_card["checks"],
                "country": pm_card["country"],
                "exp_month": pm_card["exp_month"],
                "exp_year": pm_card["exp_year"],
                "fingerprint": pm_card["fingerprint"],
                "funding": pm_card["funding"],
                "last4": pm_card["last4"],
                "network": pm_card["brand"],
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{ident}",
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/charges/{ident}/refunds",
        },
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if ok else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(ch: Obj, amount: int, reason: str | None, metadata: dict[str, str]) -> Obj:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": ch["id"],
        "created": now(),
        "currency": ch["currency"],
        "customer": ch["customer"],
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": metadata,
        "payment_intent": ch["payment_intent"],
        "payment_method": ch["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
