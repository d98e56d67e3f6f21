from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.payments.declines import (
    ADVICE_CODE_ADVICE,
    ALL_DECLINE_CODES,
    CODE_ADVICE,
    DECLINE_ADVICE,
    DEFAULT,
    FRAUD_CODES,
    GENERIC_MESSAGE,
    Advice,
    advise,
)

# docs.stripe.com/declines/codes
DOCUMENTED = [
    "approve_with_id",
    "call_issuer",
    "card_not_supported",
    "card_velocity_exceeded",
    "currency_not_supported",
    "do_not_honor",
    "do_not_try_again",
    "duplicate_transaction",
    "expired_card",
    "fraudulent",
    "generic_decline",
    "incorrect_number",
    "incorrect_cvc",
    "incorrect_pin",
    "incorrect_zip",
    "insufficient_funds",
    "invalid_account",
    "invalid_amount",
    "invalid_cvc",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "invalid_number",
    "invalid_pin",
    "issuer_not_available",
    "lost_card",
    "merchant_blacklist",
    "new_account_information_available",
    "no_action_taken",
    "not_permitted",
    "offline_pin_required",
    "online_or_offline_pin_required",
    "pickup_card",
    "pin_try_exceeded",
    "processing_error",
    "reenter_transaction",
    "restricted_card",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "security_violation",
    "service_not_allowed",
    "stolen_card",
    "stop_payment_order",
    "testmode_decline",
    "transaction_not_allowed",
    "try_again_later",
    "withdrawal_count_limit_exceeded",
    "authentication_required",
]

FRAUD_WORDS = (
    "fraud",
    "stolen",
    "lost",
    "pickup",
    "pick up",
    "restricted",
    "blacklist",
    "security",
    "suspicious",
    "risk",
    "police",
    "blocked",
)
BLAME_WORDS = ("you entered", "your fault", "invalid card", "wrong")

ALL_ADVICE = {
    **{f"decline:{k}": v for k, v in DECLINE_ADVICE.items()},
    **{f"code:{k}": v for k, v in CODE_ADVICE.items()},
    **{f"advice:{k}": v for k, v in ADVICE_CODE_ADVICE.items()},
}


def test_every_documented_decline_code_has_an_entry() -> None:
    assert set(DOCUMENTED) <= ALL_DECLINE_CODES
    assert set(DOCUMENTED) <= set(DECLINE_ADVICE)


@pytest.mark.parametrize("code", sorted(FRAUD_CODES))
def test_fraud_codes_look_like_a_generic_decline(code: str) -> None:
    generic = advise("card_declined", "generic_decline", None)
    for advice_code in (None, "confirm_card_data", "try_again_later", "do_not_try_again"):
        advice = advise("card_declined", code, advice_code)
        assert advice == generic
        assert advice.customer_message == GENERIC_MESSAGE
        assert not advice.retryable


def test_fraud_code_list_matches_design() -> None:
    assert {
        "fraudulent",
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "merchant_blacklist",
        "security_violation",
    } == FRAUD_CODES


@pytest.mark.parametrize("advice", ALL_ADVICE.values(), ids=ALL_ADVICE.keys())
def test_messages_are_short_polite_and_never_leak_fraud(advice: Advice) -> None:
    message = advice.customer_message.lower()
    assert 0 < len(message) <= 100
    assert advice.customer_message[0].isupper()
    assert advice.customer_message.endswith(".")
    assert not any(word in message for word in FRAUD_WORDS), message
    assert not any(word in message for word in BLAME_WORDS), message


@pytest.mark.parametrize(
    ("code", "decline_code", "advice_code", "next_step", "retryable"),
    [
        ("card_declined", "insufficient_funds", None, "use_another_card", False),
        ("card_declined", "generic_decline", None, "use_another_card", False),
        ("incorrect_cvc", None, None, "fix_card_details", True),
        ("expired_card", None, None, "use_another_card", False),
        ("processing_error", None, None, "retry_later", True),
        ("authentication_required", None, None, "authenticate", True),
        ("card_declined", "authentication_required", None, "authenticate", True),
        ("payment_intent_authentication_failure", None, None, "authenticate", True),
        ("card_decline_rate_limit_exceeded", None, None, "retry_later", True),
        ("card_declined", "call_issuer", None, "contact_issuer", False),
        ("card_declined", "duplicate_transaction", None, "none", False),
        ("card_declined", "try_again_later", None, "retry_later", True),
    ],
)
def test_catalogue(
    code: str, decline_code: str | None, advice_code: str | None, next_step: str, retryable: bool
) -> None:
    advice = advise(code, decline_code, advice_code)
    assert (advice.next_step, advice.retryable) == (next_step, retryable)


def test_decline_code_wins_over_code() -> None:
    assert advise("card_declined", "expired_card", None) == DECLINE_ADVICE["expired_card"]
    assert (
        advise("processing_error", "insufficient_funds", None)
        == DECLINE_ADVICE["insufficient_funds"]
    )


def test_unknown_decline_code_falls_back_to_code() -> None:
    assert advise("incorrect_cvc", "brand_new_code", None) == CODE_ADVICE["incorrect_cvc"]


def test_advice_code_refines() -> None:
    # The issuer says the data was wrong: ask for the details again.
    assert advise("card_declined", "do_not_honor", "confirm_card_data").next_step == (
        "fix_card_details"
    )
    # The issuer says never retry this card, even after a "retry later" decline.
    refined = advise("processing_error", None, "do_not_try_again")
    assert (refined.next_step, refined.retryable) == ("use_another_card", False)
    assert advise("card_declined", "generic_decline", "try_again_later").next_step == (
        "retry_later"
    )
    # Same next step: keep the specific message.
    same = advise("card_declined", "expired_card", "do_not_try_again")
    assert same == DECLINE_ADVICE["expired_card"]


def test_unknown_everything_gets_the_safe_default() -> None:
    assert DEFAULT.next_step == "use_another_card"
    assert DEFAULT.customer_message == GENERIC_MESSAGE
    assert advise(None, None, None) == DEFAULT
    assert advise("something_new", "also_new", "brand_new_advice") == DEFAULT


def test_lookup_is_case_and_space_tolerant() -> None:
    assert advise(None, " Insufficient_Funds ", None) == DECLINE_ADVICE["insufficient_funds"]
    assert advise(None, "STOLEN_CARD", "try_again_later").customer_message == GENERIC_MESSAGE


maybe_text = (
    st.none()
    | st.text(max_size=40)
    | st.sampled_from([*DOCUMENTED, *CODE_ADVICE, *ADVICE_CODE_ADVICE])
)


@given(maybe_text, maybe_text, maybe_text)
def test_advise_never_raises(code: str | None, decline: str | None, hint: str | None) -> None:
    advice = advise(code, decline, hint)
    assert isinstance(advice, Advice)
    assert advice.customer_message
    if decline is not None and decline.strip().lower() in FRAUD_CODES:
        assert advice.customer_message == GENERIC_MESSAGE
        assert not advice.retryable


# The decision table, code by code: (next step, retryable) with no advice_code, and what
# each advice_code turns it into. "=" means the code's own advice stands.
Step = tuple[str, bool]
Hints = dict[str, Step | str]
ANOTHER: Step
ISSUER: Step
FIX: Step
LATER: Step
AUTH: Step
ANOTHER, ISSUER, FIX, LATER, AUTH = (
    ("use_another_card", False),
    ("contact_issuer", False),
    ("fix_card_details", True),
    ("retry_later", True),
    ("authenticate", True),
)
_SPECIFIC: Hints = {"try_again_later": "=", "confirm_card_data": "=", "do_not_try_again": "="}
_VAGUE: Hints = {"try_again_later": LATER, "confirm_card_data": FIX, "do_not_try_again": "="}
_RETRYABLE: Hints = {"try_again_later": "=", "confirm_card_data": "=", "do_not_try_again": ANOTHER}
DECISIONS: dict[str, tuple[Step, Hints]] = {
    "decline:approve_with_id": (LATER, _RETRYABLE),
    "decline:authentication_required": (AUTH, _RETRYABLE),
    "decline:call_issuer": (ISSUER, _VAGUE),
    "decline:card_not_supported": (ANOTHER, _SPECIFIC),
    "decline:card_velocity_exceeded": (ISSUER, _VAGUE),
    "decline:currency_not_supported": (ANOTHER, _SPECIFIC),
    "decline:do_not_honor": (ISSUER, _VAGUE),
    "decline:do_not_try_again": (ISSUER, _VAGUE),
    "decline:duplicate_transaction": (("none", False), _SPECIFIC),
    "decline:expired_card": (ANOTHER, {**_SPECIFIC, "confirm_card_data": FIX}),
    "decline:generic_decline": (ANOTHER, _VAGUE),
    "decline:incorrect_cvc": (FIX, _RETRYABLE),
    "decline:incorrect_number": (FIX, _RETRYABLE),
    "decline:incorrect_pin": (FIX, _RETRYABLE),
    "decline:incorrect_zip": (FIX, _RETRYABLE),
    "decline:insufficient_funds": (ANOTHER, _SPECIFIC),
    "decline:invalid_account": (ISSUER, _VAGUE),
    "decline:invalid_amount": (ISSUER, _SPECIFIC),
    "decline:invalid_cvc": (FIX, _RETRYABLE),
    "decline:invalid_expiry_month": (FIX, _RETRYABLE),
    "decline:invalid_expiry_year": (FIX, _RETRYABLE),
    "decline:invalid_number": (FIX, _RETRYABLE),
    "decline:invalid_pin": (FIX, _RETRYABLE),
    "decline:issuer_not_available": (LATER, _RETRYABLE),
    "decline:new_account_information_available": (FIX, _RETRYABLE),
    "decline:no_action_taken": (ISSUER, _VAGUE),
    "decline:not_permitted": (ISSUER, _VAGUE),
    "decline:offline_pin_required": (ANOTHER, _SPECIFIC),
    "decline:online_or_offline_pin_required": (ANOTHER, _SPECIFIC),
    "decline:pin_try_exceeded": (ANOTHER, _SPECIFIC),
    "decline:processing_error": (LATER, _RETRYABLE),
    "decline:reenter_transaction": (LATER, _RETRYABLE),
    "decline:revocation_of_all_authorizations": (ISSUER, _VAGUE),
    "decline:revocation_of_authorization": (ISSUER, _VAGUE),
    "decline:service_not_allowed": (ISSUER, _VAGUE),
    "decline:stop_payment_order": (ISSUER, _VAGUE),
    "decline:testmode_decline": (ANOTHER, _SPECIFIC),
    "decline:transaction_not_allowed": (ISSUER, _VAGUE),
    "decline:try_again_later": (LATER, _RETRYABLE),
    "decline:withdrawal_count_limit_exceeded": (ANOTHER, _SPECIFIC),
    **{f"decline:{c}": (ANOTHER, _SPECIFIC) for c in FRAUD_CODES},  # never refined
    "code:card_declined": (ANOTHER, _VAGUE),
    "code:authentication_required": (AUTH, _RETRYABLE),
    "code:expired_card": (ANOTHER, {**_SPECIFIC, "confirm_card_data": FIX}),
    "code:incorrect_cvc": (FIX, _RETRYABLE),
    "code:incorrect_number": (FIX, _RETRYABLE),
    "code:incorrect_zip": (FIX, _RETRYABLE),
    "code:invalid_cvc": (FIX, _RETRYABLE),
    "code:invalid_expiry_month": (FIX, _RETRYABLE),
    "code:invalid_expiry_year": (FIX, _RETRYABLE),
    "code:invalid_number": (FIX, _RETRYABLE),
    "code:processing_error": (LATER, _RETRYABLE),
    "code:invalid_expiry_year_past": (FIX, _RETRYABLE),
    "code:incorrect_address": (FIX, _RETRYABLE),
    "code:postal_code_invalid": (FIX, _RETRYABLE),
    "code:payment_intent_authentication_failure": (AUTH, _RETRYABLE),
    "code:setup_intent_authentication_failure": (AUTH, _RETRYABLE),
    "code:card_decline_rate_limit_exceeded": (LATER, _RETRYABLE),
    "code:payment_intent_payment_attempt_failed": (ANOTHER, _VAGUE),
    "code:payment_method_provider_decline": (ANOTHER, _VAGUE),
    "code:payment_intent_payment_attempt_expired": (LATER, _RETRYABLE),
    "code:payment_method_unactivated": (ANOTHER, _SPECIFIC),
    "code:rate_limit": (LATER, _RETRYABLE),
}


def _advise(key: str, advice_code: str | None) -> Advice:
    kind, name = key.split(":")
    if kind == "decline":
        return advise("card_declined", name, advice_code)
    return advise(name, None, advice_code)


def test_the_decision_table_covers_every_code() -> None:
    covered = {k for k in DECISIONS}
    assert covered == {f"decline:{c}" for c in DECLINE_ADVICE} | {f"code:{c}" for c in CODE_ADVICE}


@pytest.mark.parametrize("key", sorted(DECISIONS))
def test_decision_per_code(key: str) -> None:
    own, by_hint = DECISIONS[key]
    alone = _advise(key, None)
    assert (alone.next_step, alone.retryable) == own
    for advice_code, expected in by_hint.items():
        refined = _advise(key, advice_code)
        if expected == "=":
            assert refined == alone, (key, advice_code)
        else:
            assert (refined.next_step, refined.retryable) == expected, (key, advice_code)
            assert refined == ADVICE_CODE_ADVICE[advice_code]


def _contradiction(advice: Advice) -> str | None:
    """What in the message disagrees with the next step (None: they agree)."""
    text = advice.customer_message.lower()
    invites_retry = "try again" in text
    if advice.next_step in ("use_another_card", "contact_issuer", "none") and invites_retry:
        return "says try again, but retrying does not help"
    if advice.next_step == "retry_later" and not (invites_retry or "wait" in text):
        return "a retry-later advice that does not say to try again"
    if advice.next_step == "fix_card_details" and not any(
        w in text for w in ("check", "enter", "try again")
    ):
        return "asks for nothing to fix"
    if advice.next_step == "authenticate" and "bank" not in text:
        return "does not say the bank wants confirmation"
    if advice.next_step == "contact_issuer" and "issuer" not in text:
        return "does not name the issuer"
    retry_steps = ("fix_card_details", "retry_later", "authenticate")
    if advice.retryable != (advice.next_step in retry_steps):
        return "retryable disagrees with the next step"
    return None


@pytest.mark.parametrize("key", sorted(DECISIONS))
def test_message_and_next_step_never_contradict(key: str) -> None:
    for advice_code in (None, *ADVICE_CODE_ADVICE):
        advice = _advise(key, advice_code)
        assert _contradiction(advice) is None, (key, advice_code, advice)


def test_insufficient_funds_is_not_overridden_by_try_again_later() -> None:
    advice = advise("card_declined", "insufficient_funds", "try_again_later")
    assert advice == DECLINE_ADVICE["insufficient_funds"]
    assert (advice.next_step, advice.retryable) == ("use_another_card", False)
    assert "try again" not in advice.customer_message.lower()
