"""`serve` runs on uvloop unless EVENT_LOOP=asyncio."""

from __future__ import annotations

import pytest
import uvloop

from service.config import SettingsError, load_settings
from service.event_loop import new_event_loop


def test_the_default_loop_is_uvloop_and_asyncio_can_be_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EVENT_LOOP", raising=False)
    loop = new_event_loop(load_settings().event_loop)
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    monkeypatch.setenv("EVENT_LOOP", "asyncio")
    loop = new_event_loop(load_settings().event_loop)
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_an_unknown_loop_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_LOOP", "trio")
    with pytest.raises(SettingsError, match="EVENT_LOOP"):
        load_settings()
