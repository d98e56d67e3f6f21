"""The table of Stripe event rules: one answer per event type, for webhooks and
reconciliation alike."""

from __future__ import annotations

import pytest

from service.payments.checkout_events import checkout_event
from service.payments.event_rules import (
    OBJECT_FAMILIES,
    RULES,
    event_rank,
    intent_state_rank,
    rule_for,
)
from service.payments.intent_events import charge_card, intent_event
from service.payments.refund_events import charge_refunded, refund_event
from service.payments.states import DECLINE_RANK, RANK


def test_a_session_decline_ranks_as_a_payment_intent_decline() -> None:
    session = RULES["checkout.session.async_payment_failed"]
    intent = RULES["payment_intent.payment_failed"]
    assert session.rank_of("requires_payment_method") == DECLINE_RANK
    assert intent.rank_of("requires_payment_method") == DECLINE_RANK
    assert RANK["requires_action"] * 10 < DECLINE_RANK < RANK["requires_capture"] * 10


@pytest.mark.parametrize("status", sorted(RANK))
def test_reconciliation_ranks_a_state_as_the_event_that_leads_to_it(status: str) -> None:
    assert intent_state_rank(status, declined=False) == RANK[status] * 10
    declined = intent_state_rank(status, declined=True)
    if status == "requires_payment_method":
        assert declined == event_rank("payment_intent.payment_failed", status) == DECLINE_RANK
    else:
        assert declined == RANK[status] * 10
    assert RULES["checkout.session.expired"].rank_of("canceled") == RANK["canceled"] * 10


@pytest.mark.parametrize(
    ("event_type", "handler"),
    [
        ("payment_intent.succeeded", intent_event),
        ("payment_intent.some_new_event", intent_event),  # Stripe adds types: same family
        ("checkout.session.completed", checkout_event),
        ("checkout.session.some_new_event", checkout_event),
        ("refund.created", refund_event),
        ("refund.some_new_event", refund_event),
        ("charge.refund.updated", refund_event),
        ("charge.refunded", charge_refunded),
        ("charge.succeeded", charge_card),
        ("charge.pending", charge_card),
    ],
)
def test_each_event_type_has_one_handler(event_type: str, handler: object) -> None:
    rule = rule_for(event_type)
    assert rule is not None
    assert rule.handler is handler
    assert event_type.startswith(OBJECT_FAMILIES)


@pytest.mark.parametrize(
    "event_type", ["charge.dispute.created", "balance.available", "customer.created", ""]
)
def test_other_events_are_ignored(event_type: str) -> None:
    assert rule_for(event_type) is None


def test_statuses_checkout_events_imply() -> None:
    assert RULES["checkout.session.completed"].status("paid") == "succeeded"
    assert RULES["checkout.session.completed"].status("unpaid") == "processing"
    assert RULES["checkout.session.completed"].status("no_payment_required") is None
    assert RULES["checkout.session.expired"].status(None) == "canceled"
    new_kind = rule_for("checkout.session.some_new_event")
    assert new_kind is not None
    assert new_kind.status("paid") is None
