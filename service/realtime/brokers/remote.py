"""What the Redis and NATS brokers share: queues, subscriptions, reconnects, catch-up.

A subclass only connects, sends, subscribes and unsubscribes. Here: publishes leave
in batches from a queue (a committing request never waits for the broker; a change
the broker never got is repaired by the catch-up); the wanted subscriptions (the
hub's watched payments) are synced to the connection by one task, so watch/unwatch
bursts coalesce and a new connection resubscribes everything; every (re)connect and
every ``catch_up_every`` seconds the catch-up runs.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine, Sequence
from typing import Any
from uuid import UUID

from service.db.store import Committed
from service.realtime.brokers.catch_up import WatermarkCatchUp
from service.realtime.brokers.loops import MAX_BATCH, drain_into, keep_connected, repeat_catch_up
from service.realtime.hub import Hub, Notification

log = logging.getLogger(__name__)

WATCH_WAIT = 2.0  # how long a subscribe waits for the broker before reading anyway
CLOSE_SECONDS = 5.0  # closing the broker's connections at shutdown, at most


def encode(payment_id: UUID, version: int, ts: float) -> bytes:
    return json.dumps({"payment_id": str(payment_id), "version": version, "ts": ts}).encode()


def decode(data: bytes) -> Notification | None:
    try:
        body = json.loads(data)
        return Notification(UUID(body["payment_id"]), int(body["version"]), body.get("ts"))
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed broker message: %.200r", data)
        return None


class RemoteBroker(abc.ABC):
    name = "broker"

    def __init__(
        self,
        url: str,
        hub: Hub,
        catch_up: WatermarkCatchUp,
        *,
        probe_every: float,
        catch_up_every: float,
        max_backoff: float = 5.0,
    ) -> None:
        """``url`` is the broker's; ``probe_every``: how soon a silent dead peer is noticed."""
        self.url = url
        self.probe_every = probe_every
        self.hub = hub
        self.catch_up = catch_up
        self.catch_up_every = catch_up_every
        self.max_backoff = max_backoff
        self.healthy = False
        self._outbox: asyncio.Queue[Committed] = asyncio.Queue()
        self._inbox: asyncio.Queue[Notification] = asyncio.Queue()
        self._wanted: set[UUID] = set()
        self._active: set[UUID] = set()
        self._resync = asyncio.Event()
        self._waiters: dict[UUID, list[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # what a subclass does ------------------------------------------------------------------

    @abc.abstractmethod
    async def _open(self) -> None: ...

    @abc.abstractmethod
    async def _until_lost(self) -> None:
        """Return or raise once the connection is gone."""

    @abc.abstractmethod
    async def _close(self) -> None: ...

    @abc.abstractmethod
    async def _send(self, batch: Sequence[Committed]) -> None: ...

    @abc.abstractmethod
    async def _subscribe(self, payment_ids: Sequence[UUID]) -> None: ...

    @abc.abstractmethod
    async def _unsubscribe(self, payment_ids: Sequence[UUID]) -> None: ...

    # the port --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            self._spawn(self._keep_connected()),
            self._spawn(self._sync_subscriptions()),
            self._spawn(self._send_loop()),
            self._spawn(drain_into(self.hub, self._inbox)),
            self._spawn(repeat_catch_up(self.catch_up_every, self.catch_up.run)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):  # a broker that stopped answering: give up
            await asyncio.wait_for(self._close(), CLOSE_SECONDS)

    def publish(self, committed: Sequence[Committed]) -> None:
        for change in committed:
            self._outbox.put_nowait(change)

    async def watch(self, payment_id: UUID) -> None:
        self._wanted.add(payment_id)
        if payment_id in self._active:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(payment_id, []).append(waiter)
        self._resync.set()
        try:
            await asyncio.wait_for(waiter, WATCH_WAIT)
        except TimeoutError:
            log.warning(
                "%s: no subscription within %.0fs; relying on catch-up", self.name, WATCH_WAIT
            )
        finally:
            waiters = self._waiters.get(payment_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(payment_id, None)

    def unwatch(self, payment_id: UUID) -> None:
        self._wanted.discard(payment_id)
        self._resync.set()

    def received(self, data: bytes) -> None:
        """A message from the broker (a subclass calls this); queued for the hub."""
        note = decode(data)
        if note is not None and note.payment_id in self._wanted:
            self._inbox.put_nowait(note)

    # the tasks -------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coro)

    async def _keep_connected(self) -> None:
        await keep_connected(self._connect, self._hold, self._after_loss, self.max_backoff)

    async def _connect(self) -> None:
        await self._open()
        self._active = set()
        self.healthy = True
        self._resync.set()
        log.info("%s connected", self.name)

    async def _hold(self) -> None:
        await self.catch_up.run()  # what was published while we were away
        await self._until_lost()

    async def _after_loss(self, exc: Exception) -> None:
        if self.healthy:
            self.hub.stats.listener_reconnects += 1
            log.warning("%s connection lost (%r); reconnecting", self.name, exc)
        self.healthy = False
        self._active = set()
        with contextlib.suppress(Exception):  # a broker that stopped answering: give up
            await asyncio.wait_for(self._close(), CLOSE_SECONDS)

    async def _sync_subscriptions(self) -> None:
        while True:
            await self._resync.wait()
            self._resync.clear()
            if not self.healthy:
                continue  # the next connect sets it again
            add = sorted(self._wanted - self._active)
            drop = sorted(self._active - self._wanted)
            try:
                if add:
                    await self._subscribe(add)
                    self._active.update(add)
                if drop:
                    await self._unsubscribe(drop)
                    self._active.difference_update(drop)
            except Exception as exc:
                log.warning("%s subscription change failed: %r", self.name, exc)
                continue  # _until_lost notices a dead connection
            for payment_id in add:
                for waiter in self._waiters.get(payment_id, []):
                    if not waiter.done():
                        waiter.set_result(None)

    async def _send_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < MAX_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                await self._send(batch)
            except Exception as exc:
                log.warning("%s: %d change(s) not published (%r)", self.name, len(batch), exc)
