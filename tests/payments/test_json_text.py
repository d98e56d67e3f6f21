"""The byte-level screen for unstorable strings never lets one through, however the JSON
spells it, and json_storable's fast path decides exactly as the value-by-value walk."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.http.parsing import HostileInput, check_strings, loads_checked
from service.payments.json_text import surely_storable
from service.payments.stripe_objects import _walk_storable, json_storable

# Any code point, NUL and lone surrogates included, and the look-alikes of their escapes.
TEXT = st.text(
    alphabet=st.one_of(st.characters(codec=None), st.sampled_from(["\\", "u", "0", "d", "D"]))
)
VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=40,
)
_ESCAPE = re.compile(rb"\\u([0-9a-f]{4})")


def spellings(value: object) -> list[bytes]:
    """The ways a sender may write `value`: escaped, raw UTF-8 (surrogates passed through),
    and with upper-case escapes."""
    escaped = json.dumps(value).encode()
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    upper = _ESCAPE.sub(lambda m: b"\\u" + m.group(1).upper(), escaped)
    return [escaped, raw, upper]


def walk_refuses(value: object) -> bool:
    try:
        check_strings(value)
    except HostileInput:
        return True
    return False


@given(value=VALUE)
def test_the_screen_refuses_exactly_what_the_walk_refuses(value: object) -> None:
    for body in spellings(value):
        parsed = json.loads(body)
        if surely_storable(body):
            assert not walk_refuses(parsed)
        try:
            loads_checked(body)
        except HostileInput:
            assert walk_refuses(parsed)
        else:
            assert not walk_refuses(parsed)


@pytest.mark.parametrize(
    "body",
    [b'["\\u0000"]', b'{"\\uD800": 1}', b'["a\\udfffb"]', b'["\xed\xa0\x80"]', b'["\x00"]'],
)
def test_each_spelling_of_nul_and_surrogates_is_caught(body: bytes) -> None:
    assert not surely_storable(body)


def test_an_ordinary_stripe_event_needs_no_walk() -> None:
    body = json.dumps({"id": "evt_1", "data": {"object": {"name": "Zoë 😀", "n": [1, 2]}}})
    assert surely_storable(body.encode())
    assert surely_storable(json.dumps(json.loads(body), ensure_ascii=False).encode())


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


@given(value=st.one_of(VALUE, st.integers(15, 25).map(nested)))
def test_json_storable_decides_as_the_walk(value: object) -> None:
    assert json_storable(value) == _walk_storable(value)
