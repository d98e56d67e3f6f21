"""Which change notifies the merchant, and with what: the pure rules."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from service.http.serialize import payment_out
from service.notifications.rules import TYPES, notification_for, notification_type
from service.payments.models import Change, Payment
from tests.support.payments import payment_value

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def _payment(**fields: Any) -> Payment:
    return payment_value(
        **{
            "id": uuid.UUID(int=7),
            "order_id": "booking-7",
            "amount": 2500,
            "currency": "usd",
            "stripe_payment_intent_id": "pi_7",
            "client_secret": "pi_7_secret_x",
            "metadata": {"seat": "F7"},
            "created_at": NOW,
            "updated_at": NOW,
            **fields,
        }
    )


def _change(**fields: Any) -> Change:
    return Change(
        kind=fields.pop("kind", "payment_intent.x"),
        cause_type="stripe_event",
        cause_id="evt_1",
        **fields,
    )


BEFORE = _payment()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("processing", "payment.processing"),
        ("requires_action", "payment.requires_action"),
        ("succeeded", "payment.succeeded"),
        ("canceled", "payment.canceled"),
        ("requires_capture", None),
        ("requires_payment_method", None),
    ],
)
def test_entering_a_status(status: str, expected: str | None) -> None:
    after = dataclasses.replace(BEFORE, status=status, version=2)
    assert notification_type(BEFORE, after, _change(status=status)) == expected


def test_the_same_status_again_is_not_news() -> None:
    before = dataclasses.replace(BEFORE, status="requires_action", version=3)
    after = dataclasses.replace(before, version=4)
    attempt = {"outcome": "requires_action"}
    assert notification_type(before, after, _change(data={"attempt": attempt})) is None


def test_a_failed_attempt_carries_the_attempt() -> None:
    before = dataclasses.replace(BEFORE, status="processing", version=2)
    after = dataclasses.replace(BEFORE, version=3)
    attempt = {"outcome": "failed", "decline_code": "expired_card", "advice_next_step": "x"}
    note = notification_for(before, after, _change(data={"attempt": attempt}))
    assert note is not None
    assert (note.type, note.data["attempt"], note.version) == (
        "payment.attempt_failed",
        attempt,
        3,
    )


def test_a_refund_and_creation() -> None:
    paid = dataclasses.replace(BEFORE, status="succeeded", amount_captured=2500, version=4)
    refunded = dataclasses.replace(paid, amount_refunded=500, version=5)
    assert notification_type(paid, refunded, _change(kind="refund_succeeded")) == (
        "payment.refunded"
    )
    assert notification_type(None, BEFORE, _change(kind="created")) == "payment.created"
    # Ids attached, a card filled in: nothing the merchant needs to hear.
    assert notification_type(BEFORE, dataclasses.replace(BEFORE, version=2), _change()) is None


def test_data_is_the_payment_view_plus_cause() -> None:
    after = dataclasses.replace(BEFORE, status="succeeded", version=2, amount_captured=2500)
    note = notification_for(BEFORE, after, _change(status="succeeded"))
    assert note is not None
    view = payment_out(after).model_dump(mode="json")
    assert {k: note.data[k] for k in view} == view
    assert set(note.data) - set(view) == {"customer", "cause"}
    assert note.data["cause"] == {"kind": "payment_intent.x", "type": "stripe_event", "id": "evt_1"}
    assert note.type in TYPES
