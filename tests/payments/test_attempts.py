"""attempt_from_event: which events are attempts, and what an attempt row holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.payments.declines import FRAUD_CODES, GENERIC_MESSAGE
from service.payments.event_rules import attempt_from_event
from tests.support.webhooks import card_error, intent, make_event

PI = "pi_test_attempts"


@pytest.mark.parametrize(
    "type_",
    [
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
        "checkout.session.completed",
        "refund.created",
    ],
)
def test_not_attempts(type_: str) -> None:
    assert attempt_from_event(make_event(type_, intent(PI, "requires_payment_method"))) is None


def test_succeeded_attempt() -> None:
    event = make_event(
        "payment_intent.succeeded",
        intent(PI, "succeeded", latest_charge="ch_1", payment_method="pm_1"),
        created=1_700_000_000,
    )
    row = attempt_from_event(event)
    assert row is not None
    assert row.outcome == "succeeded"
    assert row.stripe_event_id == event["id"]
    assert (row.stripe_charge_id, row.stripe_payment_method_id) == ("ch_1", "pm_1")
    assert row.occurred_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert row.error_code is None
    assert row.advice_next_step is None


def test_expanded_ids_and_card() -> None:
    pm = {"id": "pm_2", "object": "payment_method", "card": {"brand": "amex", "last4": "0005"}}
    event = make_event(
        "payment_intent.processing",
        intent(
            PI, "processing", latest_charge={"id": "ch_2", "object": "charge"}, payment_method=pm
        ),
    )
    row = attempt_from_event(event)
    assert row is not None
    assert row.outcome == "processing"
    assert (row.stripe_charge_id, row.stripe_payment_method_id) == ("ch_2", "pm_2")
    assert (row.card_brand, row.card_last4) == ("amex", "0005")


def test_failed_attempt_keeps_the_whole_error_without_card_data() -> None:
    error = card_error(
        "card_declined",
        "insufficient_funds",
        advice_code="try_again_later",
        network_decline_code="51",
        network_advice_code="02",
        doc_url="https://docs.stripe.com/error-codes/card-declined",
    )
    row = attempt_from_event(
        make_event(
            "payment_intent.payment_failed",
            intent(PI, "requires_payment_method", last_payment_error=error),
        )
    )
    assert row is not None
    assert row.outcome == "failed"
    assert row.error_type == "card_error"
    assert (row.error_code, row.decline_code) == ("card_declined", "insufficient_funds")
    assert (row.advice_code, row.network_decline_code) == ("try_again_later", "51")
    assert row.network_advice_code == "02"
    assert row.stripe_charge_id == error["charge"]
    assert row.stripe_payment_method_id == error["payment_method"]["id"]
    assert (row.card_brand, row.card_last4) == ("visa", "0002")
    stored = row.last_payment_error
    assert stored is not None
    assert stored["payment_method"] == error["payment_method"]["id"]  # no card details kept
    assert stored["doc_url"] == error["doc_url"]
    # insufficient_funds keeps its own advice; the issuer's try_again_later does not
    # override it (issue 15: the message and the next step must agree).
    assert row.advice_next_step == "use_another_card"
    assert row.advice_retryable is False


@pytest.mark.parametrize("decline_code", sorted(FRAUD_CODES))  # the list: test_declines
def test_fraud_declines_look_generic(decline_code: str) -> None:
    error = card_error("card_declined", decline_code, advice_code="do_not_try_again")
    row = attempt_from_event(
        make_event(
            "payment_intent.payment_failed",
            intent(PI, "requires_payment_method", last_payment_error=error),
        )
    )
    assert row is not None
    assert (row.advice_next_step, row.advice_retryable) == ("use_another_card", False)
    assert row.advice_message == GENERIC_MESSAGE


def test_failed_attempt_without_error_details_is_a_generic_decline() -> None:
    errors: list[object] = [None, "not an object", {}]
    for error in errors:
        row = attempt_from_event(
            make_event(
                "payment_intent.payment_failed",
                intent(PI, "requires_payment_method", last_payment_error=error),
            )
        )
        assert row is not None
        assert row.error_code is None
        assert row.last_payment_error is None
        assert row.advice_message == GENERIC_MESSAGE


def test_authentication_failure() -> None:
    error = {
        "type": "invalid_request_error",
        "code": "payment_intent_authentication_failure",
        "message": "The provided PaymentMethod has failed authentication.",
    }
    row = attempt_from_event(
        make_event(
            "payment_intent.payment_failed",
            intent(PI, "requires_payment_method", last_payment_error=error),
        )
    )
    assert row is not None
    assert row.advice_next_step == "authenticate"
    assert row.error_type == "invalid_request_error"


def test_requires_action_and_canceled() -> None:
    action = attempt_from_event(
        make_event("payment_intent.requires_action", intent(PI, "requires_action"))
    )
    assert action is not None
    assert (action.outcome, action.advice_next_step) == ("requires_action", "authenticate")
    canceled = attempt_from_event(make_event("payment_intent.canceled", intent(PI, "canceled")))
    assert canceled is not None
    assert canceled.outcome == "canceled"


def test_bad_card_fields_are_not_kept() -> None:
    pm = {"id": "pm_3", "card": {"brand": "", "last4": 1234}}
    row = attempt_from_event(
        make_event("payment_intent.succeeded", intent(PI, "succeeded", payment_method=pm))
    )
    assert row is not None
    assert (row.card_brand, row.card_last4) == (None, None)
