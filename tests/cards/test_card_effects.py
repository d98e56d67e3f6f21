"""What each decline does to a saved card (one row per code), expiry by date, and the list
shown once per physical card: pure, the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.payments.card_effects import CARD_EFFECTS, card_effect, disables
from service.payments.saved_cards import (
    DisabledCard,
    GatewayCard,
    is_expired,
    same_card,
    saved_cards,
)


@pytest.mark.parametrize(
    ("decline_code", "action", "next_step"),
    [
        ("expired_card", "disable", "use_another_card"),
        ("lost_card", "disable", "use_another_card"),
        ("stolen_card", "disable", "use_another_card"),
        ("pickup_card", "disable", "use_another_card"),
        ("incorrect_cvc", "ask_cvc", "fix_card_details"),
        ("insufficient_funds", "suggest_another", "use_another_card"),
        ("generic_decline", "suggest_another", "use_another_card"),
        ("do_not_honor", "suggest_another", "use_another_card"),
        ("authentication_required", "authenticate", "authenticate"),
    ],
)
def test_one_row_per_decline_code(decline_code: str, action: str, next_step: str) -> None:
    effect = card_effect(decline_code, "card_declined")
    assert (effect.action, effect.next_step) == (action, next_step)
    assert disables(decline_code) is (action == "disable")


def test_the_table_has_exactly_the_documented_rows() -> None:
    assert set(CARD_EFFECTS) == {
        "expired_card",
        "lost_card",
        "stolen_card",
        "pickup_card",
        "incorrect_cvc",
        "insufficient_funds",
        "generic_decline",
        "do_not_honor",
        "authentication_required",
    }


def test_the_error_code_counts_when_there_is_no_decline_code() -> None:
    # Stripe sends expired_card / incorrect_cvc as the error code with no decline_code.
    assert card_effect(None, "expired_card").action == "disable"
    assert card_effect(None, "incorrect_cvc").action == "ask_cvc"


@given(st.text(max_size=30), st.one_of(st.none(), st.text(max_size=30)))
def test_an_unknown_code_leaves_the_card(decline: str, code: str | None) -> None:
    effect = card_effect(decline, code)
    if decline not in CARD_EFFECTS and code not in CARD_EFFECTS:
        assert effect.action == "suggest_another"


NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("month", "year", "expired"),
    [(12, 2026, False), (11, 2026, True), (1, 2027, False), (12, 2025, True), (None, 2020, False)],
)
def test_a_card_works_through_its_expiry_month(month: int | None, year: int, expired: bool) -> None:
    assert is_expired(month, year, NOW) is expired


@given(
    st.integers(1, 12),
    st.integers(2000, 2100),
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 12, 31), timezones=st.just(UTC)),
)
def test_expired_exactly_after_the_expiry_month(month: int, year: int, now: datetime) -> None:
    assert is_expired(month, year, now) is (now.year * 12 + now.month > year * 12 + month)


def _card(pm: str, created: int, fingerprint: str | None, exp_year: int = 2034) -> GatewayCard:
    return GatewayCard(pm, "cus_1", "visa", "4242", 12, exp_year, fingerprint, created)


def test_duplicates_shown_once_in_stripes_order_and_disabled_if_any_copy_is() -> None:
    cards = [  # Stripe's order: newest first
        _card("pm_a2", 30, "fp_a"),
        _card("pm_b", 20, "fp_b", exp_year=2020),
        _card("pm_a1", 10, "fp_a"),
        _card("pm_c", 5, None),
    ]
    disabled = {"pm_a1": DisabledCard("pm_a1", "lost_card", NOW)}
    shown = saved_cards(cards, disabled, NOW)
    assert [c.id for c in shown] == ["pm_a2", "pm_b", "pm_c"]
    by_id = {c.id: c for c in shown}
    assert by_id["pm_a2"].disabled_reason == "lost_card"
    assert not by_id["pm_a2"].usable
    assert by_id["pm_b"].expired
    assert not by_id["pm_b"].usable
    assert by_id["pm_c"].usable
    assert sorted(same_card(cards, "pm_a1")) == ["pm_a1", "pm_a2"]
    assert same_card(cards, "pm_c") == ["pm_c"]
    assert same_card(cards, "pm_other") == []
