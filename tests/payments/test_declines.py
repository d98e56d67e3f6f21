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
