"""One live client (a WebSocket or an SSE stream): its subscriptions and its writer task.

Fan-out calls ``offer`` synchronously: it never awaits the client. Pending messages are
kept per payment and merged, so the queue holds at most one item per subscription (the
newest state plus every timeline entry not yet sent). One writer task drains it in order.
A client whose oldest pending item waits longer than ``slow_after``, or whose send has
not finished after ``slow_after`` (the hub's watchdog looks every ``slow_after / 2``), is
closed (4008) and resyncs on reconnect with ``since_version``, so nobody else waits for it.

Thousands of these sit idle in one process, so an idle one holds little: no
``asyncio.Event`` or deque (each carries a 600-byte deque), one future while it waits,
one long-lived ping timer, and no extra task per wait or per send (``asyncio.wait_for``
makes one) nor timer per send (a fan-out to 10,000 clients spent a tenth of its time
arming and cancelling them).
An update's text is built once per state and shared by every client that gets the same
entries, not serialized again for each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from service.realtime.protocol import CLOSE_SLOW, PING, state_message
from service.realtime.stats import RealtimeStats

log = logging.getLogger(__name__)

Kind = Literal["snapshot", "update", "control", "ping"]
# send(kind, version, text): the transport frames it (WS text frame, SSE event).
Send = Callable[[Kind, int | None, str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]

MAX_CONTROL_MESSAGES = 32


class UpdateTexts:
    """Update texts shared between one hub's clients: a fan-out serializes each state
    once per distinct set of entries, not once per client. Keyed by (id(state), entry
    versions); the state is kept with its text so its id cannot be reused meanwhile."""

    __slots__ = ("_texts",)
    MAX = 512

    def __init__(self) -> None:
        self._texts: dict[tuple[int, tuple[int, ...]], tuple[dict[str, Any], str]] = {}

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


class Flag:
    """``asyncio.Event``'s ``is_set`` / ``set`` / ``wait``, without a deque per instance."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        if self._set:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


@dataclass(slots=True)
class _Pending:
    kind: Literal["snapshot", "update"]
    state: dict[str, Any]
    entries: dict[int, dict[str, Any]]
    queued_at: float
    committed_at: float | None = None


@dataclass(eq=False, slots=True)  # identity: clients are kept in sets
class Subscriber:
    send: Send
    close_transport: Close
    stats: RealtimeStats
    slow_after: float = 5.0
    ping_every: float = 25.0
    texts: UpdateTexts = field(default_factory=UpdateTexts)  # the hub's, shared
    # payment -> highest version delivered (since_version until the snapshot goes out)
    versions: dict[UUID, int] = field(default_factory=dict)
    closed: Flag = field(default_factory=Flag)
    # insertion-ordered: the oldest pending payment first
    _pending: dict[UUID, _Pending] = field(default_factory=dict)
    _control: list[str] | None = None
    _waiter: asyncio.Future[None] | None = None  # the idle writer's
    _task: asyncio.Task[None] | None = None
    # One long-lived timer per client for the pings, re-armed from the last send, rather
    # than a timer armed and cancelled around every wait.
    _ping_timer: asyncio.TimerHandle | None = None
    _ping_due: bool = False
    _last_sent: float = 0.0
    _sending_since: float | None = None  # while a send is in progress

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_sent = time.monotonic()
        self._ping_timer = loop.call_later(self.ping_every, self._on_ping_timer)
        self._task = loop.create_task(self._write_loop())

    def _on_ping_timer(self) -> None:
        if self.closed.is_set():
            return
        quiet = time.monotonic() - self._last_sent
        if quiet >= self.ping_every * 0.99:
            self._ping_due = True
            self._wake_writer()
            quiet = 0.0
        loop = asyncio.get_running_loop()
        self._ping_timer = loop.call_later(self.ping_every - quiet, self._on_ping_timer)

    def _wake_writer(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def offer(
        self,
        payment_id: UUID,
        kind: Literal["snapshot", "update"],
        state: dict[str, Any],
        entries: list[dict[str, Any]],
        committed_at: float | None = None,
    ) -> None:
        """Queue a state for this client; merges with what is pending. Never awaits."""
        if self.closed.is_set() or payment_id not in self.versions:
            return
        delivered = self.versions[payment_id]
        if kind == "update" and state["version"] <= delivered and payment_id not in self._pending:
            return  # already has it (duplicate notification, or the snapshot covered it)
        fresh = {e["version"]: e for e in entries if e["version"] > delivered}
        item = self._pending.get(payment_id)
        if item is None:
            self._pending[payment_id] = _Pending(kind, state, fresh, time.monotonic(), committed_at)
        else:
            if kind == "snapshot":
                item.kind = "snapshot"
            if state["version"] >= item.state["version"]:
                item.state = state
            item.entries.update(fresh)
            item.committed_at = item.committed_at or committed_at
        self._check_slow()
        self._wake_writer()

    def control(self, text: str) -> None:
        """pong / error: small, bounded; a client flooding us with pings is slow by choice."""
        if self._control is None:
            self._control = []
        if len(self._control) >= MAX_CONTROL_MESSAGES:
            self._close_soon(CLOSE_SLOW, "too many messages waiting")
            return
        self._control.append(text)
        self._wake_writer()

    def forget(self, payment_id: UUID) -> None:
        self.versions.pop(payment_id, None)
        self._pending.pop(payment_id, None)

    def _check_slow(self) -> None:
        if not self._pending:
            return
        oldest = next(iter(self._pending.values()))
        if time.monotonic() - oldest.queued_at > self.slow_after and not self.closed.is_set():
            self.stats.slow_closes += 1
            log.info("closing a slow client", extra={"pending": len(self._pending)})
            self._close_soon(CLOSE_SLOW, "too slow; reconnect with since_version")

    def _close_soon(self, code: int, reason: str) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._wake_writer()
            asyncio.get_running_loop().create_task(self._close_quietly(code, reason))

    async def _close_quietly(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.close_transport(code, reason)

    async def close(self, code: int, reason: str) -> None:
        self.closed.set()
        self._wake_writer()
        await self._close_quietly(code, reason)

    async def stop(self) -> None:
        self.closed.set()
        self._wake_writer()
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _idle(self) -> None:
        """Until there is something to send (or a ping is due, or the client closed)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    async def _write_loop(self) -> None:
        try:
            while not self.closed.is_set():
                if self._ping_due:
                    self._ping_due = False
                    await self._send("ping", None, PING)
                    continue
                if not self._control and not self._pending:
                    await self._idle()
                    continue
                while self._control and not self.closed.is_set():
                    await self._send("control", None, self._control.pop(0))
                if self._pending and not self.closed.is_set():
                    payment_id = next(iter(self._pending))
                    await self._deliver(payment_id, self._pending.pop(payment_id))
        except (ConnectionError, RuntimeError) as exc:
            log.debug("client writer stopped: %r", exc)
            self.closed.set()

    async def _deliver(self, payment_id: UUID, item: _Pending) -> None:
        delivered = self.versions.get(payment_id)
        if delivered is None:
            return  # unsubscribed meanwhile
        version: int = item.state["version"]
        if item.kind == "update" and version <= delivered:
            return
        entries = [item.entries[v] for v in sorted(item.entries) if v > delivered]
        if item.kind == "update":
            text = self.texts.text(item.state, entries)
        else:
            text = state_message(item.kind, item.state, entries)
        await self._send(item.kind, version, text)
        self.versions[payment_id] = max(delivered, version)
        if item.committed_at is not None:
            self.stats.observe_push(time.time() - item.committed_at)

    async def _send(self, kind: Kind, version: int | None, text: str) -> None:
        # A send that cannot finish in time is a slow client as well: see close_if_stuck.
        self._sending_since = time.monotonic()
        try:
            await self.send(kind, version, text)
        finally:
            self._sending_since = None
        self._last_sent = time.monotonic()
        self.stats.messages_sent += 1

    def close_if_stuck(self, now: float) -> bool:
        """Close the client if its current send has waited longer than ``slow_after``
        (it stopped reading and its socket is full); True if it was."""
        since = self._sending_since
        if since is None or now - since <= self.slow_after or self.closed.is_set():
            return False
        self.stats.slow_closes += 1
        if self._task is not None:
            self._task.cancel()  # the send waits on a socket that is not being read
        self._close_soon(CLOSE_SLOW, "too slow; reconnect with since_version")
        return True
