"""One live client (a WebSocket or an SSE stream): its subscriptions and its writes.

Fan-out calls ``offer`` synchronously: it never awaits the client. Pending messages are
kept per payment and merged, so the queue holds at most one item per subscription (the
newest state plus every timeline entry not yet sent). What the transport takes without
waiting (a WebSocket under its buffer limit: ``write_now``) is written in the same pass,
so a fan-out to 10,000 sockets is one loop, not 10,000 task wake-ups; only a send that
has to wait gets a writer task, which drains the queue in order and ends. A client whose
oldest pending item waits longer than ``slow_after``, or whose send has not finished
after ``slow_after`` (the hub's sweep looks every ``slow_after / 2``), is closed (4008)
and resyncs on reconnect with ``since_version``, so nobody else waits for it.

Thousands of these sit idle in one process, so an idle one holds little: no task, no
timer (the hub's sweep sends the pings), no ``asyncio.Event`` or deque (each carries a
600-byte deque).
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
from typing import Any, Literal, Protocol
from uuid import UUID

from service.realtime.protocol import CLOSE_SLOW, PING, state_message
from service.realtime.stats import RealtimeStats
from service.realtime.texts import UpdateTexts

log = logging.getLogger(__name__)

Kind = Literal["snapshot", "update", "control", "ping"]
# send(kind, version, text): the transport frames it (WS text frame, SSE event).
Send = Callable[[Kind, int | None, str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]
# write_now(text): True if the transport took the whole message without waiting.
WriteNow = Callable[[str], bool]


class Link(Protocol):
    """Where a subscriber's messages go (a WebSocket, an event stream). One object, not
    three bound methods: a subscriber holding ``send``, ``close`` and ``write_now`` of its
    socket would pay ~190 bytes for them, for as long as it is connected."""

    async def send(self, kind: Kind, version: int | None, text: str) -> None:
        """The message, framed by the transport, once it is written (may wait)."""

    async def close(self, code: int, reason: str) -> None: ...

    def write_now(self, kind: Kind, text: str) -> bool:
        """True if the transport took the whole message without waiting; False: nothing
        was written, and it goes through ``send``. An update's or a ping's text is the
        same object for every client; a snapshot's or a control message's is one
        client's."""


class Callbacks:
    """A link made of functions (an event stream's, a test's)."""

    __slots__ = ("_close", "_send", "_write_now")

    def __init__(self, send: Send, close: Close, write_now: WriteNow | None = None) -> None:
        self._send = send
        self._close = close
        self._write_now = write_now

    async def send(self, kind: Kind, version: int | None, text: str) -> None:
        await self._send(kind, version, text)

    async def close(self, code: int, reason: str) -> None:
        await self._close(code, reason)

    def write_now(self, kind: Kind, text: str) -> bool:
        return self._write_now is not None and self._write_now(text)


MAX_CONTROL_MESSAGES = 32


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


@dataclass(slots=True)
class _Out:
    """One message taken off the queue, on its way to the transport."""

    kind: Kind
    version: int | None
    text: str
    payment_id: UUID | None = None
    committed_at: float | None = None


@dataclass(eq=False, slots=True)  # identity: clients are kept in sets
class Subscriber:
    link: Link
    stats: RealtimeStats
    slow_after: float = 5.0
    ping_every: float = 25.0
    texts: UpdateTexts = field(default_factory=UpdateTexts)  # the hub's, shared
    # payment -> highest version delivered (since_version until the snapshot goes out)
    versions: dict[UUID, int] = field(default_factory=dict)
    closed: Flag = field(default_factory=Flag)
    # insertion-ordered: the oldest pending payment first; None while nothing is (an
    # empty dict costs an idle client 64 bytes)
    _pending: dict[UUID, _Pending] | None = None
    _control: list[str] | None = None
    _task: asyncio.Task[None] | None = None  # only while a send has to wait
    _ping_due: bool = False
    _last_sent: float = 0.0
    _sending_since: float | None = None  # while a send is in progress

    def start(self) -> None:
        self._last_sent = time.monotonic()

    def tick(self, now: float) -> bool:
        """The hub's sweep: close the client if stuck (True), else ping it if quiet."""
        if self.close_if_stuck(now):
            return True
        if now - self._last_sent >= self.ping_every and not self.closed.is_set():
            self._ping_due = True
            self._kick()
        return False

    def offer(
        self,
        payment_id: UUID,
        kind: Literal["snapshot", "update"],
        state: dict[str, Any],
        entries: list[dict[str, Any]],
        committed_at: float | None = None,
    ) -> None:
        """Queue a state for this client; merges with what is pending. Never awaits."""
        delivered = self.versions.get(payment_id)
        if delivered is None or self.closed.is_set():
            return
        version: int = state["version"]
        if kind == "update":
            pending = self._pending
            if version <= delivered and not (pending and payment_id in pending):
                return  # already has it (duplicate notification, or the snapshot covered it)
            if (
                self._task is None
                and not pending
                and not self._control
                and not self._ping_due
                and self.link.write_now("update", self.texts.above(state, entries, delivered))
            ):
                # A fan-out's common case, kept short (it runs for every socket): nothing
                # queued and the socket keeps up, so the update is written and done.
                # Its latency is the fan-out's, observed once by the hub after the last
                # socket (a sample per socket would cost every one of them a clock read
                # and fill the window with one fan-out's ten thousand).
                self.versions[payment_id] = version
                self._last_sent = time.monotonic()
                self.stats.messages_sent += 1
                return
        fresh = {e["version"]: e for e in entries if e["version"] > delivered}
        if self._pending is None:
            self._pending = {}
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
        self._kick()

    def control(self, text: str) -> None:
        """pong / error: small, bounded; a client flooding us with pings is slow by choice."""
        if self._control is None:
            self._control = []
        if len(self._control) >= MAX_CONTROL_MESSAGES:
            self._close_soon(CLOSE_SLOW, "too many messages waiting")
            return
        self._control.append(text)
        self._kick()

    def forget(self, payment_id: UUID) -> None:
        self.versions.pop(payment_id, None)
        if self._pending:
            self._pending.pop(payment_id, None)
            if not self._pending:
                self._pending = None

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
            asyncio.get_running_loop().create_task(self._close_quietly(code, reason))

    async def _close_quietly(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.link.close(code, reason)

    async def close(self, code: int, reason: str) -> None:
        self.closed.set()
        await self._close_quietly(code, reason)

    async def stop(self) -> None:
        self.closed.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # writing ---------------------------------------------------------------------------

    def _kick(self) -> None:
        """Write what is queued now, as far as the transport takes it without waiting;
        the rest goes to a writer task, which ends once the queue is empty. An idle
        client has no task, and a fan-out writes to each socket in the same pass."""
        if self._task is not None or self.closed.is_set():
            return  # the running writer takes it from the queue
        while (out := self._take()) is not None:
            if not self.link.write_now(out.kind, out.text):
                self._task = asyncio.get_running_loop().create_task(self._write_loop(out))
                return
            self._sent(out.payment_id, out.version, out.committed_at)

    def _take(self) -> _Out | None:
        """The next message to send, in order: ping, control messages, payment states."""
        if self._ping_due:
            self._ping_due = False
            return _Out("ping", None, PING)
        if self._control:
            return _Out("control", None, self._control.pop(0))
        while self._pending:
            payment_id = next(iter(self._pending))
            item = self._pending.pop(payment_id)
            if not self._pending:
                self._pending = None  # an emptied dict keeps its table: ~170 bytes a client
            out = self._prepare(payment_id, item)
            if out is not None:
                return out
        return None

    def _prepare(self, payment_id: UUID, item: _Pending) -> _Out | None:
        delivered = self.versions.get(payment_id)
        if delivered is None:
            return None  # unsubscribed meanwhile
        version: int = item.state["version"]
        if item.kind == "update" and version <= delivered:
            return None
        entries = [item.entries[v] for v in sorted(item.entries) if v > delivered]
        if item.kind == "update":
            text = self.texts.text(item.state, entries)
        else:
            text = state_message(item.kind, item.state, entries)
        return _Out(item.kind, version, text, payment_id, item.committed_at)

    def _sent(
        self, payment_id: UUID | None, version: int | None, committed_at: float | None
    ) -> None:
        self._last_sent = time.monotonic()
        self.stats.messages_sent += 1
        if payment_id is None or version is None:
            return
        delivered = self.versions.get(payment_id)
        if delivered is not None and version > delivered:
            self.versions[payment_id] = version
        if committed_at is not None:
            self.stats.observe_push(time.time() - committed_at)

    async def _write_loop(self, out: _Out | None) -> None:
        try:
            while out is not None and not self.closed.is_set():
                # A send that cannot finish in time is a slow client: see close_if_stuck.
                self._sending_since = time.monotonic()
                try:
                    await self.link.send(out.kind, out.version, out.text)
                finally:
                    self._sending_since = None
                self._sent(out.payment_id, out.version, out.committed_at)
                out = self._take()
        except (ConnectionError, RuntimeError) as exc:
            log.debug("client writer stopped: %r", exc)
            self.closed.set()
        finally:
            if self._task is asyncio.current_task():
                self._task = None

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
