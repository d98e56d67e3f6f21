"""The shared input rules: JSON depth counted on raw bytes, storable strings, ASCII ints."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.http.parsing import HostileInput, check_strings, loads_checked, parse_int
from service.payments.json_text import too_deep

JSON = st.recursive(
    st.one_of(st.none(), st.integers(), st.text(alphabet='[]{}"\\ab,:')),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(), inner)),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(value=JSON, limit=st.integers(min_value=0, max_value=8), indent=st.sampled_from([None, 2]))
def test_depth_scan_agrees_with_the_parser(value: object, limit: int, indent: int | None) -> None:
    raw = json.dumps(value, indent=indent).encode()
    assert too_deep(raw, limit) == (_depth(value) > limit)


def test_absurd_depth_is_refused_without_recursion() -> None:
    for raw in (b"[" * 100_000, b'{"a":' * 50_000, b"[" * 10_000 + b"]" * 10_000):
        with pytest.raises(HostileInput) as info:
            loads_checked(raw)
        assert info.value.code == "json_too_deep"
    inside_a_string = json.dumps({"a": "[" * 100}).encode()
    assert loads_checked(inside_a_string) == {"a": "[" * 100}


@pytest.mark.parametrize("text", ["\x00", "a\x00", "\ud800", "x\udfffy"])
def test_unstorable_strings_anywhere(text: str) -> None:
    for value in (text, [text], {"k": text}, {text: 1}, {"a": [{"b": text}]}):
        with pytest.raises(HostileInput):
            check_strings(value)
    # A surrogate pair escaped in JSON decodes to one character: fine.
    check_strings(json.loads('{"ok": ["\\ud83d\\ude00", "x"]}'))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("42", 42), ("007", 7), ("²", None), ("①", None), ("١٢", None), ("-1", None),
     ("+1", None), (" 1", None), ("1_0", None), ("", None), ("9" * 19, None)],
)  # fmt: skip
def test_parse_int_takes_ascii_digits_only(raw: str, expected: int | None) -> None:
    assert parse_int(raw) == expected
    assert parse_int("5", low=6) is None
