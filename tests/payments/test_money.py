from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.payments.money import (
    MAXIMUM_AMOUNT,
    MINIMUM_AMOUNTS,
    SUPPORTED_CURRENCIES,
    THREE_DECIMAL,
    ZERO_DECIMAL,
    Money,
    MoneyError,
    amount_step,
    format_amount,
    minimum_amount,
    minor_units,
    parse_amount,
    validate_amount,
)

currencies = st.sampled_from(sorted(SUPPORTED_CURRENCIES))


def code_of(amount: object, currency: str) -> str | None:
    try:
        validate_amount(amount, currency)  # type: ignore[arg-type]
    except MoneyError as exc:
        return exc.code
    return None


def smallest_valid(currency: str) -> int:
    step = amount_step(currency)
    return -(-minimum_amount(currency) // step) * step  # round the minimum up to a step


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1234, "usd", "12.34 USD"),
        (5, "USD", "0.05 USD"),
        (500, "jpy", "500 JPY"),
        (1230, "bhd", "1.230 BHD"),
        (0, "eur", "0.00 EUR"),
        (-150, "gbp", "-1.50 GBP"),
        (12300, "isk", "12300 ISK"),
        (99_999_999, "kwd", "99999.999 KWD"),
    ],
)
def test_format_amount(amount: int, currency: str, expected: str) -> None:
    assert format_amount(amount, currency) == expected


def test_minor_units() -> None:
    assert minor_units("USD") == 2
    assert minor_units("jpy") == 0
    assert minor_units("isk") == 0
    assert minor_units("bhd") == 3
    assert {minor_units(c) for c in ZERO_DECIMAL} == {0}
    assert {minor_units(c) for c in THREE_DECIMAL} == {3}


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (50, "usd", None),
        (49, "usd", "amount_too_small"),
        (30, "GBP", None),
        (29, "gbp", "amount_too_small"),
        (50, "jpy", None),
        (17_500, "huf", None),
        (17_499, "huf", "amount_too_small"),
        (0, "usd", "amount_too_small"),
        (-100, "usd", "amount_too_small"),
        (99_999_999, "usd", None),
        (100_000_000, "usd", "amount_too_large"),
        (1230, "bhd", None),
        (1231, "bhd", "invalid_amount_for_currency"),
        (100, "isk", None),
        (150, "isk", "invalid_amount_for_currency"),
        (1, "isk", "invalid_amount_for_currency"),
        (100, "usdx", "invalid_currency"),
        (100, "us", "invalid_currency"),
        (100, "xyz", "invalid_currency"),
        (100, "ü$d", "invalid_currency"),
        (100, "\u212awd", "invalid_currency"),  # Kelvin sign lower-cases to "k"
        (True, "usd", "invalid_amount"),
        (50.0, "usd", "invalid_amount"),
    ],
)
def test_validate_amount(amount: object, currency: str, expected: str | None) -> None:
    assert code_of(amount, currency) == expected


def test_error_carries_details() -> None:
    with pytest.raises(MoneyError) as info:
        validate_amount(10, "USD")
    assert info.value.code == "amount_too_small"
    assert info.value.details == {"amount": 10, "currency": "usd", "minimum": 50}
    assert "0.50 USD" in info.value.message


@pytest.mark.parametrize("value", ["12.5", "-5", "+5", " 5", "5 ", "", "1e3", "abc", "٣", "²"])
def test_parse_amount_rejects_strings(value: str) -> None:
    with pytest.raises(MoneyError) as info:
        parse_amount(value)
    assert info.value.code == "invalid_amount"


@pytest.mark.parametrize("value", [True, False, 1.0, 12.5, None, b"12", [1], -1])
def test_parse_amount_rejects_other_types(value: object) -> None:
    with pytest.raises(MoneyError) as info:
        parse_amount(value)
    assert info.value.code == "invalid_amount"


def test_parse_amount_rejects_huge_digit_strings_cheaply() -> None:
    with pytest.raises(MoneyError) as info:
        parse_amount("9" * 10_000)
    assert info.value.code == "amount_too_large"


def test_parse_amount_accepts_ints_and_digit_strings() -> None:
    assert parse_amount(1234) == 1234
    assert parse_amount("1234") == 1234
    assert parse_amount("0") == 0


def test_money_value() -> None:
    money = Money(1999, "EUR")
    assert money.currency == "eur"
    assert str(money) == "19.99 EUR"
    assert Money.parse("1999", "eur") == money
    with pytest.raises(MoneyError):
        Money(10, "usd")


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_round_trips_str(amount: int) -> None:
    assert parse_amount(str(amount)) == amount
    assert parse_amount(amount) == amount


@given(st.integers(min_value=-(10**12), max_value=10**12), currencies)
def test_format_round_trips_through_digits(amount: int, currency: str) -> None:
    text = format_amount(amount, currency)
    number, code = text.split(" ")
    assert code == currency.upper()
    places = minor_units(currency)
    if places:
        assert len(number.lstrip("-").split(".")[1]) == places
    digits = number.lstrip("-").replace(".", "")
    assert parse_amount(digits) == abs(amount)
    assert number.startswith("-") == (amount < 0)


@given(st.integers(min_value=-(10**10), max_value=10**10), currencies)
def test_every_accepted_amount_satisfies_every_rule(amount: int, currency: str) -> None:
    if code_of(amount, currency) is not None:
        return
    assert minimum_amount(currency) <= amount <= MAXIMUM_AMOUNT
    if currency in THREE_DECIMAL:
        assert amount % 10 == 0
    if currency == "isk":
        assert amount % 100 == 0
    assert Money(amount, currency).amount == amount


@given(currencies)
def test_boundaries(currency: str) -> None:
    low = smallest_valid(currency)
    assert code_of(low, currency) is None
    assert code_of(low - 1, currency) is not None
    assert code_of(minimum_amount(currency) - 1, currency) == "amount_too_small"
    top = MAXIMUM_AMOUNT - MAXIMUM_AMOUNT % amount_step(currency)
    assert code_of(top, currency) is None
    assert code_of(MAXIMUM_AMOUNT + 1, currency) == "amount_too_large"


@given(st.booleans(), currencies)
def test_bools_are_never_amounts(value: bool, currency: str) -> None:
    assert code_of(value, currency) == "invalid_amount"
    with pytest.raises(MoneyError):
        parse_amount(value)


@given(st.text(min_size=1, max_size=6))
def test_unknown_currencies_rejected(currency: str) -> None:
    if currency.lower() in SUPPORTED_CURRENCIES:
        return
    assert code_of(100, currency) == "invalid_currency"


def test_documented_minimums_present() -> None:
    assert MINIMUM_AMOUNTS["usd"] == 50
    assert MINIMUM_AMOUNTS["gbp"] == 30
    assert MINIMUM_AMOUNTS["mxn"] == 1000
    assert set(MINIMUM_AMOUNTS) <= SUPPORTED_CURRENCIES
    assert ZERO_DECIMAL <= SUPPORTED_CURRENCIES
    assert THREE_DECIMAL <= SUPPORTED_CURRENCIES
