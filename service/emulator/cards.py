"""Stripe's documented test cards and `pm_card_*` ids, plus two emulator-only cards.

Emulator-only cards (not Stripe's; they exist so clients can observe `processing`):
- 4000000000008880 / `pm_card_emulatorProcessing`: the PaymentIntent goes to `processing`
  and succeeds `EmulatorConfig.processing_delay` seconds later.
- 4000000000007775 / `pm_card_emulatorProcessingDeclined`: `processing`, then fails with a
  generic decline after the same delay (drives `checkout.session.async_payment_failed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Behaviour(Enum):
    SUCCEED = "succeed"
    DECLINE = "decline"
    THREE_DS = "three_ds"
    PROCESSING = "processing"
    PROCESSING_DECLINE = "processing_decline"
    REFUND_FAIL = "refund_fail"  # charge succeeds; refunds fail asynchronously


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str | None
    message: str
    advice_code: str | None = None
    network_decline_code: str | None = None
    blocked: bool = False  # Radar block: never sent to the card network


_DECLINED = "Your card was declined."
GENERIC = Decline("card_declined", "generic_decline", _DECLINED, None, "05")
DECLINES: dict[str, Decline] = {
    "4000000000000002": GENERIC,
    "4000000000000341": GENERIC,
    "4000000000007775": GENERIC,
    "4000000000009995": Decline(
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
        "try_again_later",
        "51",
    ),
    "4000000000009987": Decline("card_declined", "lost_card", _DECLINED, "do_not_try_again", "41"),
    "4000000000009979": Decline(
        "card_declined", "stolen_card", _DECLINED, "do_not_try_again", "43"
    ),
    "4000000000000069": Decline(
        "expired_card", "expired_card", "Your card has expired.", "confirm_card_data", "54"
    ),
    "4000000000000127": Decline(
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
        "confirm_card_data",
        "N7",
    ),
    "4000000000000119": Decline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4100000000000019": Decline(
        "card_declined", "fraudulent", _DECLINED, "do_not_try_again", None, blocked=True
    ),
}
INCORRECT_NUMBER = Decline("incorrect_number", None, "Your card number is incorrect.")
# An off-session payment the bank wants the customer to authenticate.
AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)
# Stripe's card that needs 3-D Secure once, when set up; later off-session payments pass.
SET_UP_ONCE = "4000002500003155"

THREE_DS = frozenset(
    {"4000002760003184", "4000002500003155", "4000000000003220", "4000000000003063"}
)

PM_IDS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_radarBlock": "4100000000000019",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_threeDSecureRequired": "4000000000003063",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_refundFail": "4000000000005126",
    "pm_card_emulatorProcessing": "4000000000008880",
    "pm_card_emulatorProcessingDeclined": "4000000000007775",
}


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def behaviour(number: str) -> Behaviour:
    if number == "4000000000008880":
        return Behaviour.PROCESSING
    if number == "4000000000007775":
        return Behaviour.PROCESSING_DECLINE
    if number == "4000000000005126":
        return Behaviour.REFUND_FAIL
    if number in THREE_DS:
        return Behaviour.THREE_DS
    if number in DECLINES:
        return Behaviour.DECLINE
    return Behaviour.SUCCEED


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or number[:1] == "2":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith("6"):
        return "discover"
    return "unknown"
