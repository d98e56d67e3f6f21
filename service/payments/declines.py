"""Decline advice (DESIGN §7): what the customer should do next, and what we may tell them.

Inputs are the `code`, `decline_code` and `advice_code` of Stripe's `last_payment_error`.
The decision, in order (``advise``):

1. a fraud decline_code gets the generic decline, whatever else arrives;
2. the advice of the decline_code, else of the code, else the generic decline;
3. the issuer's advice_code: ``do_not_try_again`` turns any advice that invites a retry
   into "use another card"; otherwise it replaces an advice only when that advice lists
   it in ``refined_by``: any code for one naming no reason of its own (the generic
   decline, "contact your issuer"), an agreeing one for a specific reason (an expired
   card asked to ``confirm_card_data``: enter the renewed card). Otherwise the reason keeps
   its own advice: insufficient funds stays "use another card" even when the issuer adds
   ``try_again_later``, so message and next step never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

NextStep = Literal[
    "use_another_card", "fix_card_details", "authenticate", "retry_later", "contact_issuer", "none"
]


@dataclass(frozen=True, slots=True)
class Advice:
    next_step: NextStep
    retryable: bool  # can the same card succeed if tried again (after fixing details / waiting)?
    customer_message: str
    # The issuer's advice_codes that may replace this advice: all of them when it names no
    # reason of its own (REFINABLE), else only those that agree with its reason.
    refined_by: frozenset[str] = frozenset()


GENERIC_MESSAGE: Final = "Your card was declined."
# Fraud codes must be indistinguishable from a plain decline (Stripe's guidance): same
# message, same next step, same retryable flag; telling a fraudster "stolen card" helps them.
# Stripe's `advice_code` values (docs.stripe.com/declines/card#retrying-issuer-declines).
REFINABLE: Final = frozenset({"confirm_card_data", "do_not_try_again", "try_again_later"})
GENERIC: Final = Advice("use_another_card", False, GENERIC_MESSAGE, refined_by=REFINABLE)
DEFAULT: Final = GENERIC

FRAUD_CODES: Final[frozenset[str]] = frozenset(
    {
        "fraudulent",
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "merchant_blacklist",
        "security_violation",
    }
)

_ANOTHER = "Your card was declined. Please use another card."
_ISSUER = "Your card was declined. Please contact your card issuer or use another card."
_AGAIN = "We couldn't process your card. Please try again in a moment."
_DETAILS = "Please check your card details and try again."


def _use_another(msg: str = _ANOTHER) -> Advice:
    return Advice("use_another_card", False, msg)


def _issuer(msg: str = _ISSUER) -> Advice:
    return Advice("contact_issuer", False, msg, REFINABLE if msg == _ISSUER else frozenset())


def _fix(msg: str = _DETAILS) -> Advice:
    return Advice("fix_card_details", True, msg)


def _later(msg: str = _AGAIN) -> Advice:
    return Advice("retry_later", True, msg)


_AUTH = Advice(
    "authenticate", True, "Your bank needs you to confirm this payment. Please try again."
)
_PIN = _use_another("This card needs a PIN, which we can't take here. Please use another card.")

# Every decline code Stripe documents (docs.stripe.com/declines/codes).
DECLINE_ADVICE: Final[dict[str, Advice]] = {
    "approve_with_id": _later(),
    "authentication_required": _AUTH,
    "call_issuer": _issuer(),
    "card_not_supported": _use_another(
        "This card doesn't support this kind of purchase. Please use another card."
    ),
    "card_velocity_exceeded": _issuer(),
    "currency_not_supported": _use_another(
        "This card doesn't support this currency. Please use another card."
    ),
    "do_not_honor": _issuer(),
    "do_not_try_again": _issuer(),
    "duplicate_transaction": Advice(
        "none", False, "A payment with the same details was just made. Please check your orders."
    ),
    # confirm_card_data: the card was renewed, the customer may enter its new expiry.
    "expired_card": Advice(
        "use_another_card",
        False,
        "This card has expired. Please use another card.",
        refined_by=frozenset({"confirm_card_data"}),
    ),
    "generic_decline": GENERIC,
    "incorrect_cvc": _fix("The card's CVC doesn't match. Please check it and try again."),
    "incorrect_number": _fix("The card number doesn't match. Please check it and try again."),
    "incorrect_pin": _fix("The PIN doesn't match. Please try again."),
    "incorrect_zip": _fix("The postal code doesn't match. Please check it and try again."),
    "insufficient_funds": _use_another(
        "The payment couldn't be approved for this amount. Please use another card."
    ),
    "invalid_account": _issuer(),
    "invalid_amount": _issuer(
        "This amount couldn't be approved. Please contact your card issuer or use another card."
    ),
    "invalid_cvc": _fix("The card's CVC looks invalid. Please check it and try again."),
    "invalid_expiry_month": _fix("The expiry month looks invalid. Please check it."),
    "invalid_expiry_year": _fix("The expiry year looks invalid. Please check it."),
    "invalid_number": _fix("The card number looks invalid. Please check it and try again."),
    "invalid_pin": _fix("The PIN looks invalid. Please try again."),
    "issuer_not_available": _later(
        "We couldn't reach your card issuer. Please try again in a moment."
    ),
    "new_account_information_available": _fix(
        "Your card details have changed. Please enter your current card details."
    ),
    "no_action_taken": _issuer(),
    "not_permitted": _issuer(),
    "offline_pin_required": _PIN,
    "online_or_offline_pin_required": _PIN,
    "pin_try_exceeded": _use_another(
        "The PIN has been entered too many times. Please use another card."
    ),
    "processing_error": _later(),
    "reenter_transaction": _later(),
    "revocation_of_all_authorizations": _issuer(),
    "revocation_of_authorization": _issuer(),
    "service_not_allowed": _issuer(),
    "stop_payment_order": _issuer(),
    "testmode_decline": _use_another("This card can't be used for real payments."),
    "transaction_not_allowed": _issuer(),
    "try_again_later": _later(),
    "withdrawal_count_limit_exceeded": _use_another(
        "This card has reached its limit. Please use another card."
    ),
    **dict.fromkeys(FRAUD_CODES, GENERIC),
}
ALL_DECLINE_CODES: Final[frozenset[str]] = frozenset(DECLINE_ADVICE)

# Error `code`s that can arrive without a decline_code.
CODE_ADVICE: Final[dict[str, Advice]] = {
    "card_declined": GENERIC,
    **{
        c: DECLINE_ADVICE[c]
        for c in (
            "authentication_required",
            "expired_card",
            "incorrect_cvc",
            "incorrect_number",
            "incorrect_zip",
            "invalid_cvc",
            "invalid_expiry_month",
            "invalid_expiry_year",
            "invalid_number",
            "processing_error",
        )
    },
    "invalid_expiry_year_past": _fix("The expiry year is in the past. Please check it."),
    "incorrect_address": _fix("The billing address doesn't match. Please check it."),
    "postal_code_invalid": _fix("The postal code looks invalid. Please check it."),
    "payment_intent_authentication_failure": Advice(
        "authenticate",
        True,
        "We couldn't verify this payment with your bank. Please try again or use another card.",
    ),
    "setup_intent_authentication_failure": Advice(
        "authenticate", True, "We couldn't verify your card with your bank. Please try again."
    ),
    "card_decline_rate_limit_exceeded": _later(
        "This card was declined too many times. Please wait a while or use another card."
    ),
    "payment_intent_payment_attempt_failed": GENERIC,
    "payment_method_provider_decline": GENERIC,
    "payment_intent_payment_attempt_expired": _later("The payment timed out. Please try again."),
    "payment_method_unactivated": _use_another(),
    "rate_limit": _later(),
}

ADVICE_CODE_ADVICE: Final[dict[str, Advice]] = {
    "confirm_card_data": _fix(),
    "do_not_try_again": _use_another(),
    "try_again_later": _later(),
}


def _lookup(table: dict[str, Advice], key: str | None) -> Advice | None:
    if not isinstance(key, str):
        return None
    return table.get(key.strip().lower())


def advise(code: str | None, decline_code: str | None, advice_code: str | None) -> Advice:
    """Advice for a failed payment; never raises, unknown input gets the generic decline."""
    dc = decline_code.strip().lower() if isinstance(decline_code, str) else None
    if dc in FRAUD_CODES:
        return GENERIC  # the issuer's hint must not make a fraud decline look different
    base = _lookup(DECLINE_ADVICE, dc) or _lookup(CODE_ADVICE, code) or DEFAULT
    hint_key = advice_code.strip().lower() if isinstance(advice_code, str) else None
    hint = ADVICE_CODE_ADVICE.get(hint_key or "")
    if hint is None:
        return base
    if hint_key == "do_not_try_again":
        return hint if base.retryable else base  # never invite a retry the issuer refuses
    return hint if hint_key in base.refined_by else base
