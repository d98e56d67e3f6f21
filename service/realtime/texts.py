"""Update texts shared between one hub's clients: a fan-out serializes each state once
per distinct set of entries, not once per client."""

from __future__ import annotations

from typing import Any

from service.realtime.protocol import state_message


class UpdateTexts:
    """Update texts shared between one hub's clients: a fan-out serializes each state
    once per distinct set of entries, not once per client. Keyed by (id(state), entry
    versions); the state is kept with its text so its id cannot be reused meanwhile."""

    __slots__ = ("_above", "_texts")
    MAX = 512

    def __init__(self) -> None:
        self._texts: dict[tuple[int, tuple[int, ...]], tuple[dict[str, Any], str]] = {}
        self._above: dict[
            tuple[int, int, int], tuple[dict[str, Any], list[dict[str, Any]], str]
        ] = {}

    def above(self, state: dict[str, Any], entries: list[dict[str, Any]], delivered: int) -> str:
        """``text`` for a client that holds `delivered`: the entries above it. In a
        fan-out every client gets the same `entries` list, so most find it here by
        identity without filtering it or building a key from its versions."""
        key = (id(state), id(entries), delivered)
        cached = self._above.get(key)
        if cached is not None and cached[0] is state and cached[1] is entries:
            return cached[2]
        text = self.text(state, [e for e in entries if e["version"] > delivered])
        if len(self._above) >= self.MAX:
            self._above.clear()
        self._above[key] = (state, entries, text)
        return text

    def text(self, state: dict[str, Any], entries: list[dict[str, Any]]) -> str:
        key = (id(state), tuple(e["version"] for e in entries))
        cached = self._texts.get(key)
        if cached is not None and cached[0] is state:
            return cached[1]
        text = state_message("update", state, entries)
        if len(self._texts) >= self.MAX:
            self._texts.clear()
        self._texts[key] = (state, text)
        return text
