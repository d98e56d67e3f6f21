"""Decode Stripe's bracket-nested form encoding (`a[b][0][c]=v`, `expand[]=x`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import invalid

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
# Values under these keys are free-form maps whose keys may look like indexes.
_MAPS = frozenset({"metadata"})


def _split(key: str) -> list[str]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    rest = key[len(head) :]
    parts = _SEGMENT.findall(rest)
    if "".join(f"[{p}]" for p in parts) != rest or not head:
        raise invalid(f"Invalid parameter name: {key}", param=key)
    return [head, *parts]


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build nested dicts/lists from form pairs. `[]` appends, `[0]` indexes."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        path = _split(key)
        node: dict[str, Any] = root
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            if nxt == "":
                break  # `x[]`: the list is created below
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid(f"Invalid parameter: {key}", param=key)
            node = child
        last = path[-1]
        if last == "" and len(path) >= 2:
            lst = node.setdefault(path[-2], [])
            if not isinstance(lst, list):
                raise invalid(f"Invalid array: {key}", param=key)
            lst.append(value)
        else:
            if isinstance(node.get(last), dict | list):
                raise invalid(f"Invalid parameter: {key}", param=key)
            node[last] = value
    decoded: dict[str, Any] = _listify(root, None)
    return decoded


def _listify(value: Any, name: str | None) -> Any:
    if isinstance(value, list):
        return [_listify(v, None) for v in value]
    if not isinstance(value, dict):
        return value
    if name in _MAPS:
        return dict(value)
    out = {k: _listify(v, k) for k, v in value.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out
