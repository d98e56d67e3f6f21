"""Bracket-nested form decoding, checked against stripe-python's own encoder."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from service.emulator.errors import StripeError
from service.emulator.forms import decode


def _roundtrip(params: dict[str, object]) -> dict[str, object]:
    encoded = urlencode(list(_api_encode(params)))
    return decode(parse_qsl(encoded, keep_blank_values=True))


def test_nested_checkout_params() -> None:
    params = {
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 100,
                    "product_data": {"name": "A"},
                },
                "quantity": 2,
            },
            {
                "price_data": {"currency": "usd", "unit_amount": 5, "product_data": {"name": "B"}},
                "quantity": 1,
            },
        ],
        "metadata": {"0": "zero", "k": "v"},
        "expand": ["payment_intent"],
        "confirm": True,
    }
    assert _roundtrip(params) == {
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": "100",
                    "product_data": {"name": "A"},
                },
                "quantity": "2",
            },
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": "5",
                    "product_data": {"name": "B"},
                },
                "quantity": "1",
            },
        ],
        "metadata": {"0": "zero", "k": "v"},
        "expand": ["payment_intent"],
        "confirm": "true",
    }


def test_empty_brackets_append() -> None:
    pairs = [("expand[]", "latest_charge"), ("expand[]", "customer"), ("a[b][]", "1")]
    assert decode(pairs) == {"expand": ["latest_charge", "customer"], "a": {"b": ["1"]}}


@pytest.mark.parametrize(
    "pairs",
    [[("a[b", "1")], [("[x]", "1")], [("a", "1"), ("a[b]", "2")], [("a[b]", "1"), ("a", "2")]],
)
def test_malformed_names_are_rejected(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(StripeError) as caught:
        decode(pairs)
    assert caught.value.status == 400


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)


@given(st.dictionaries(_keys, st.text(max_size=20), max_size=6))
def test_metadata_roundtrip(metadata: dict[str, str]) -> None:
    decoded = _roundtrip({"metadata": metadata})
    assert decoded.get("metadata", {}) == metadata


@given(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=5))
def test_list_roundtrip(values: list[str]) -> None:
    assert _roundtrip({"types": values}) == {"types": values}
