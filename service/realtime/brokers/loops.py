"""The background loops every broker runs: keep its connection (reconnecting with
backoff), drain a queue into the hub in batches, and repeat the catch-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from service.realtime.hub import Hub, Notification

log = logging.getLogger(__name__)

MAX_BATCH = 1000
FIRST_BACKOFF = 0.1


async def keep_connected(
    connect: Callable[[], Awaitable[None]],
    hold: Callable[[], Awaitable[None]],
    on_lost: Callable[[Exception], Awaitable[None]],
    max_backoff: float,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Forever: ``connect``, then ``hold`` the connection (catch up, then watch it) until it
    is lost; after a failure of either, ``on_lost`` and a pause that doubles from
    FIRST_BACKOFF up to `max_backoff`, and back to FIRST_BACKOFF once connected again."""
    backoff = FIRST_BACKOFF
    while True:
        try:
            await connect()
            backoff = FIRST_BACKOFF
            await hold()
            raise ConnectionError("connection closed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await on_lost(exc)
            await pause(backoff)
            backoff = min(backoff * 2, max_backoff)


async def drain_into(hub: Hub, queue: asyncio.Queue[Notification]) -> None:
    """Forever: whatever has queued up (up to MAX_BATCH) goes to ``hub.publish`` at once."""
    while True:
        batch = [await queue.get()]
        while len(batch) < MAX_BATCH and not queue.empty():
            batch.append(queue.get_nowait())
        try:
            await hub.publish(batch)
        except Exception:
            # The database is unreachable; the catch-up re-reads once it is back.
            log.exception("publishing %d notification(s) failed", len(batch))


async def repeat_catch_up(every: float, catch_up: Callable[[], Awaitable[int]]) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await catch_up()
        except Exception as exc:
            log.warning("catch-up failed: %r", exc)
