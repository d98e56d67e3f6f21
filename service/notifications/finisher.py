"""Delivery answers recorded together: one statement for all that arrived meanwhile.

While one write is in flight, the answers that come in wait and go in the next one; an
answer alone goes at once (no timer, so no added latency when it is quiet). Under load a
worker with many requests in flight then writes a handful of answers per round trip
instead of one each, which is most of its database work and PostgreSQL's part of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from service.db.notifications_repo import Finish

MAX_BATCH = 256  # rows per statement; a worker holds at most its endpoints x concurrency

Write = Callable[[Sequence[Finish]], Awaitable[set[int]]]


class Finisher:
    def __init__(self, write: Write) -> None:
        """``write``: records a batch, answers the ids whose lease held."""
        self._write = write
        self._waiting: list[tuple[Finish, asyncio.Future[bool]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def finish(self, outcome: Finish) -> bool:
        """Recorded, with whether this process still held the lease; raises what the
        write raised (the database down: the lease lapses and it is sent again)."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, answer))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_all(), name="notification-finish")
        return await answer

    async def drain(self) -> None:
        """Until what is waiting is written (at stop, before the pool closes)."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)

    async def _write_all(self) -> None:
        batch: list[tuple[Finish, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    held = await self._write([outcome for outcome, _ in batch])
                except Exception as exc:  # each waiter raises it
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                for outcome, answer in batch:
                    if not answer.done():  # else its delivery was cancelled meanwhile
                        answer.set_result(outcome.claimed.id in held)
        finally:
            self._writing = None
            for _, answer in batch + self._waiting:  # cancelled itself: no waiter hangs
                if not answer.done():
                    answer.cancel()
            self._waiting = []
