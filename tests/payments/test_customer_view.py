"""The one customer view of an attempt: timeline, /attempts and live messages share it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from service.http.serialize import attempt_out
from service.payments.customer_view import CustomerAttempt, customer_attempt, latest_attempt
from service.payments.declines import FRAUD_CODES, GENERIC_MESSAGE, advise
from service.payments.models import Attempt, NewAttempt
from service.realtime.protocol import state_message

AT = datetime(2026, 3, 14, 19, 30, tzinfo=UTC)
STRIPE_3DS_TEXT = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


def failed(code: str, decline_code: str | None, message: str = "Stripe's text.") -> NewAttempt:
    advice = advise(code, decline_code, None)
    return NewAttempt(
        outcome="failed",
        stripe_event_id="evt_1",
        occurred_at=AT,
        card_brand="visa",
        card_last4="0002",
        error_type="card_error",
        error_code=code,
        decline_code=decline_code,
        advice_code="try_again_later",
        network_decline_code="59",
        error_message=message,
        advice_next_step=advice.next_step,
        advice_retryable=advice.retryable,
        advice_message=advice.customer_message,
    )


def stored(new: NewAttempt) -> Attempt:
    return Attempt(
        id=1,
        payment_id=uuid4(),
        outcome=new.outcome,
        stripe_event_id=new.stripe_event_id,
        stripe_charge_id=None,
        stripe_payment_method_id=None,
        card_brand=new.card_brand,
        card_last4=new.card_last4,
        error_type=new.error_type,
        error_code=new.error_code,
        decline_code=new.decline_code,
        advice_code=new.advice_code,
        network_advice_code=None,
        network_decline_code=new.network_decline_code,
        error_message=new.error_message,
        advice_next_step=new.advice_next_step,
        advice_retryable=new.advice_retryable,
        advice_message=new.advice_message,
        occurred_at=new.occurred_at,
    )


@pytest.mark.parametrize("code", sorted(FRAUD_CODES))
def test_a_fraud_decline_looks_like_a_plain_decline_everywhere(code: str) -> None:
    fraud, plain = failed("card_declined", code), failed("card_declined", "generic_decline")
    assert customer_attempt(fraud) == customer_attempt(plain)
    view = customer_attempt(fraud)
    assert (view.error_code, view.decline_code) == ("card_declined", "generic_decline")
    assert view.advice_message == GENERIC_MESSAGE
    # The browser's read of /attempts is built from the same view.
    out = attempt_out(stored(fraud), for_customer=True).model_dump_json()
    assert code not in out
    assert "59" not in out  # the network's code would tell a fraud decline apart
    # The API key still sees the truth.
    assert code in attempt_out(stored(fraud)).model_dump_json()


def test_stripe_developer_text_never_reaches_the_customer() -> None:
    attempt = failed("payment_intent_authentication_failure", None, STRIPE_3DS_TEXT)
    view = customer_attempt(attempt)
    assert STRIPE_3DS_TEXT not in json.dumps(view.to_json())
    out = attempt_out(stored(attempt), for_customer=True)
    assert out.error is not None
    assert out.error["message"] == view.advice_message
    assert "PaymentMethod" not in out.model_dump_json()
    assert out.error["advice_code"] is None
    assert attempt_out(stored(attempt)).error == {
        **out.error,
        "message": STRIPE_3DS_TEXT,
        "advice_code": "try_again_later",
        "network_decline_code": "59",
    }


def test_only_a_failed_attempt_says_whether_retrying_helps() -> None:
    pending = NewAttempt(
        outcome="requires_action",
        stripe_event_id="evt_2",
        occurred_at=AT,
        advice_next_step="authenticate",
        advice_retryable=True,
        advice_message="Your bank needs you to confirm this payment.",
    )
    view = customer_attempt(pending)
    assert view.advice_retryable is None
    assert view.advice_next_step == "authenticate"
    assert "advice_retryable" not in view.to_json()
    assert customer_attempt(failed("card_declined", "insufficient_funds")).advice_retryable is False


def _entry(version: int, attempt: Mapping[str, object] | None) -> dict[str, object]:
    data = {"attempt": attempt} if attempt else {}
    return {"version": version, "kind": "k", "status": "s", "data": data, "at": f"t{version}"}


def test_latest_attempt_is_the_newest_and_masked_again() -> None:
    # A row written by an older service that masked only decline_code, with a retry flag
    # on a pending 3-D Secure.
    old = {"outcome": "failed", "error_code": "stolen_card", "decline_code": "generic_decline"}
    pending = {
        "outcome": "requires_action",
        "advice_next_step": "authenticate",
        "advice_retryable": True,
    }
    entries = [_entry(1, None), _entry(2, old), _entry(3, None)]
    view = latest_attempt(entries)
    assert view is not None
    assert view["error_code"] == "card_declined"
    assert view["advice_message"] == GENERIC_MESSAGE
    assert "stolen" not in json.dumps(view)
    assert view["at"] == "t2"
    newest = latest_attempt([*entries, _entry(4, pending)])
    assert newest == {"outcome": "requires_action", "advice_next_step": "authenticate", "at": "t4"}
    assert latest_attempt([_entry(1, None)]) is None


def test_live_messages_carry_the_latest_attempt() -> None:
    view = customer_attempt(failed("card_declined", "insufficient_funds")).to_json()
    state = {"payment_id": "p", "version": 3}
    message = json.loads(state_message("update", state, [_entry(2, view), _entry(3, None)]))
    assert message["attempt"] == {**view, "at": "t2"}
    assert message["timeline"][0]["data"]["attempt"] == view  # old clients read this
    bare = json.loads(state_message("snapshot", state, []))
    assert bare["attempt"] is None
    assert CustomerAttempt(outcome="succeeded").to_json() == {"outcome": "succeeded"}
