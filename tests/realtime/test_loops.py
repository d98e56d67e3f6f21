"""keep_connected: reconnects after every loss, with a pause that doubles up to its bound
and starts again from the first once a connection is made."""

from __future__ import annotations

import asyncio

import pytest

from service.realtime.brokers.loops import keep_connected


async def test_backoff_doubles_while_down_and_resets_once_connected() -> None:
    pauses: list[float] = []

    async def recorded_pause(seconds: float) -> None:
        pauses.append(seconds)

    # Down five times, then connected once (lost while held), then down twice more.
    script = iter(["down"] * 5 + ["up"] + ["down"] * 2)
    losses: list[str] = []
    held = 0

    async def connect() -> None:
        step = next(script, None)
        if step is None:
            raise asyncio.CancelledError
        if step == "down":
            raise OSError("refused")

    async def hold() -> None:
        nonlocal held
        held += 1
        raise ConnectionError("lost")

    async def on_lost(exc: Exception) -> None:
        losses.append(type(exc).__name__)

    with pytest.raises(asyncio.CancelledError):
        await keep_connected(connect, hold, on_lost, max_backoff=0.5, pause=recorded_pause)
    assert held == 1
    assert losses == ["OSError"] * 5 + ["ConnectionError"] + ["OSError"] * 2
    assert pauses == [0.1, 0.2, 0.4, 0.5, 0.5, 0.1, 0.2, 0.4]
