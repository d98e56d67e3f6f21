"""One dedicated LISTEN connection per process (not from the pool), kept alive.

The asyncpg callback is synchronous and only queues; a consumer task drains the queue in
batches into the hub. A probe checks the connection every few seconds; when it is gone
the listener reconnects with backoff, LISTENs again and runs a catch-up, so changes
committed while it was away still reach the clients. A periodic catch-up also covers a
notification lost for any other reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from uuid import UUID

import asyncpg

from service.db.payments_repo import NOTIFY_CHANNEL
from service.realtime.brokers.loops import drain_into, keep_connected, repeat_catch_up
from service.realtime.hub import Hub, Notification

log = logging.getLogger(__name__)


class PgListener:
    def __init__(
        self,
        dsn: str,
        hub: Hub,
        *,
        probe_every: float = 2.0,
        catch_up_every: float = 3.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.hub = hub
        self.probe_every = probe_every
        self.catch_up_every = catch_up_every
        self.max_backoff = max_backoff
        self.healthy = False
        self._queue: asyncio.Queue[Notification] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        """Connect once before serving (so readiness is true at once), then keep at it."""
        try:
            await self._connect()
        except Exception as exc:
            log.warning("listener could not connect yet (%r); retrying in the background", exc)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_listening()),
            loop.create_task(drain_into(self.hub, self._queue)),
            loop.create_task(repeat_catch_up(self.catch_up_every, self.hub.catch_up)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if not self.hub.watching_any():
            return  # nobody here to tell; a later subscriber reads the state itself
        try:
            body = json.loads(payload)
            note = Notification(UUID(body["payment_id"]), int(body["version"]), body.get("ts"))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed notification: %.200s", payload)
            return
        self._queue.put_nowait(note)

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self._conn = conn
        self.healthy = True
        log.info("listening for payment changes")
        return conn

    async def _keep_listening(self) -> None:
        await keep_connected(self._ensure_connected, self._hold, self._after_loss, self.max_backoff)

    async def _ensure_connected(self) -> None:
        if self._conn is None:
            await self._connect()

    async def _hold(self) -> None:
        assert self._conn is not None
        conn = self._conn
        await self.hub.catch_up()  # whatever committed while we were away
        while True:
            await asyncio.sleep(self.probe_every)
            await conn.fetchval("SELECT 1", timeout=self.probe_every)

    async def _after_loss(self, exc: Exception) -> None:
        if self.healthy:
            self.hub.stats.listener_reconnects += 1
            log.warning("listener connection lost (%r); reconnecting", exc)
        self.healthy = False
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None
