"""``Change.applied_to``: the one statement of what a change does to a payment (the
database stores exactly its result, and the merchant's notification is built from it)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from service.payments.models import Change, Payment, PaymentUpdate
from tests.support.payments import payment_value

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
BEFORE = payment_value(
    status="processing",
    amount=5_000,
    version=3,
    stripe_payment_intent_id="pi_1",
    client_secret="pi_1_secret",
    description="two seats",
    metadata={"seats": "F7,F8"},
    stripe_state_at=T0,
    stripe_state_rank=2,
    created_at=T0,
    updated_at=T0,
)
CARRIED = {
    "status",
    "stripe_state_at",
    "stripe_state_rank",
    "stripe_payment_intent_id",
    "amount_capturable",
    "amount_captured",
    "amount_refunded",
    "cancellation_reason",
}
amounts = st.none() | st.integers(0, 5_000)


@given(
    status=st.none() | st.sampled_from(["succeeded", "canceled", "requires_payment_method"]),
    state_at=st.none() | st.just(T0 + timedelta(seconds=5)),
    rank=st.none() | st.integers(0, 9),
    intent=st.none() | st.just("pi_2"),
    capturable=amounts,
    captured=amounts,
    refunded=amounts,
    reason=st.none() | st.just("abandoned"),
)
def test_a_change_sets_what_it_carries_and_keeps_the_rest(
    status: str | None,
    state_at: datetime | None,
    rank: int | None,
    intent: str | None,
    capturable: int | None,
    captured: int | None,
    refunded: int | None,
    reason: str | None,
) -> None:
    update = PaymentUpdate(intent, capturable, captured, refunded, reason)
    change = Change("test", "api", None, status, {}, update, state_at, rank)
    at = T0 + timedelta(minutes=1)
    after = change.applied_to(BEFORE, at)
    carried = {
        "status": status,
        "stripe_state_at": state_at,
        "stripe_state_rank": rank,
        "stripe_payment_intent_id": intent,
        "amount_capturable": capturable,
        "amount_captured": captured,
        "amount_refunded": refunded,
        "cancellation_reason": reason,
    }
    assert after.version == BEFORE.version + 1
    assert after.updated_at == at
    for f in fields(Payment):
        if f.name in CARRIED:
            value = carried[f.name]
            expected = getattr(BEFORE, f.name) if value is None else value
            assert getattr(after, f.name) == expected, f.name
        elif f.name not in {"version", "updated_at"}:
            assert getattr(after, f.name) == getattr(BEFORE, f.name), f.name
