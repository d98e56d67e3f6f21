"""The two background loops every broker runs: drain a queue into the hub in batches,
and repeat the catch-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from service.realtime.hub import Hub, Notification

log = logging.getLogger(__name__)

MAX_BATCH = 1000


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
