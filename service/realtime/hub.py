"""The hub: who watches which payment here, and fan-out of each committed change.

Notifications (payment id, version) arrive from the Postgres listener in batches. The hub
reads the new states once per batch (one statement, whatever the number of clients) and
offers them to every subscriber without awaiting any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from service.gc_tuning import freeze_soon
from service.payments.models import TimelineEntry
from service.payments.ports import PaymentStore
from service.realtime.protocol import entries_json, payment_state
from service.realtime.stats import RealtimeStats
from service.realtime.subscriber import Callbacks, Close, Link, Send, Subscriber, WriteNow
from service.realtime.texts import UpdateTexts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    payment_id: UUID
    version: int
    committed_at: float | None = None


class Interest(Protocol):
    """A fan-out broker's subscriptions: this process hears only the payments it watches."""

    async def watch(self, payment_id: UUID) -> None:
        """Returns once messages about the payment reach this process (or it gave up)."""
        ...

    def unwatch(self, payment_id: UUID) -> None: ...


def _up_to(entries: list[TimelineEntry], version: int) -> list[TimelineEntry]:
    """The entries a state of `version` covers. A subscription reads the state and the
    entries in two statements without a transaction (no BEGIN/COMMIT), so entries
    committed in between may be newer than the state: those go out with their state on
    its own notification."""
    return [e for e in entries if e.version <= version]


class Hub:
    def __init__(
        self,
        store: PaymentStore,
        stats: RealtimeStats,
        *,
        slow_after: float = 5.0,
        ping_every: float = 25.0,
    ) -> None:
        """`slow_after`: how long a client may leave an update or a send unfinished
        before it is closed (4008); `ping_every`: how quiet a client's line may get."""
        self.store = store
        self.stats = stats
        self.slow_after = slow_after
        self.ping_every = ping_every
        self.texts = UpdateTexts()
        self.clients: set[Subscriber] = set()
        self._watchers: dict[UUID, set[Subscriber]] = {}
        self._known: dict[UUID, int] = {}  # highest version fanned out here, per payment
        # Per payment, at most the oldest version its watchers hold: fan-out reads the
        # timeline from there. Reading more entries than a client needs is harmless (each
        # takes those above its own version); finding the exact oldest is a scan of every
        # watcher (10 ms for 10,000), so it is done by the sweep, not before each fan-out.
        self._floor: dict[UUID, int] = {}
        self.interest: Interest | None = None  # a broker that routes per payment, if any

    # clients -----------------------------------------------------------------------------

    def add(self, client: Subscriber) -> None:
        self.clients.add(client)
        self.stats.connections = len(self.clients)

    def join(self, send: Send, close: Close, write_now: WriteNow | None = None) -> Subscriber:
        """A live client, until ``leave``."""
        return self.attach(Callbacks(send, close, write_now))

    def attach(self, link: Link) -> Subscriber:
        """A live client writing to `link`, until ``leave``."""
        client = Subscriber(
            link,
            self.stats,
            slow_after=self.slow_after,
            ping_every=self.ping_every,
            texts=self.texts,
        )
        self.add(client)
        client.start()
        return client

    async def leave(self, client: Subscriber) -> None:
        self.remove(client)
        await client.stop()

    @contextlib.asynccontextmanager
    async def connected(
        self, send: Send, close: Close, write_now: WriteNow | None = None
    ) -> AsyncIterator[Subscriber]:
        """A live client for as long as the block runs."""
        client = self.join(send, close, write_now)
        try:
            yield client
        finally:
            await self.leave(client)

    def remove(self, client: Subscriber) -> None:
        for payment_id in list(client.versions):
            self.unsubscribe(client, payment_id)
        self.clients.discard(client)
        self.stats.connections = len(self.clients)

    async def subscribe(self, client: Subscriber, payment_id: UUID, since_version: int) -> bool:
        """Register first, then read: a change committed meanwhile is merged, never lost."""
        if payment_id not in client.versions:
            if self.interest is not None and payment_id not in self._watchers:
                # Subscribed at the broker before registered here: no update can reach
                # this client ahead of its snapshot, and none is missed after it.
                await self.interest.watch(payment_id)
                if client not in self.clients:  # it left meanwhile
                    if payment_id not in self._watchers:
                        self.interest.unwatch(payment_id)
                    return False
            self._watchers.setdefault(payment_id, set()).add(client)
            self.stats.subscriptions += 1
        client.versions[payment_id] = since_version
        self._floor[payment_id] = min(self._floor.get(payment_id, since_version), since_version)
        async with self.store.connection() as db:
            payment = await db.get_payment(payment_id)
            entries = await db.timeline(payment_id, since_version) if payment else []
        if payment is None:
            self.unsubscribe(client, payment_id)
            return False
        entries = _up_to(entries, payment.version)
        # _known records what fan-out has offered to every watcher. Another watcher may
        # not have this version yet, but a payment's only one (its first, and no other
        # joined during the read) has it now: recorded, a catch-up after start does not
        # find every watched payment "ahead" and read them all again.
        if self._watchers.get(payment_id) == {client}:
            self._known[payment_id] = max(self._known.get(payment_id, 0), payment.version)
        client.offer(payment_id, "snapshot", payment_state(payment), entries_json(entries))
        freeze_soon()  # a subscribed client tends to stay: out of the collector's scans
        return True

    def unsubscribe(self, client: Subscriber, payment_id: UUID) -> None:
        watchers = self._watchers.get(payment_id)
        if watchers is not None and client in watchers:
            watchers.discard(client)
            self.stats.subscriptions -= 1
            if not watchers:
                del self._watchers[payment_id]
                self._known.pop(payment_id, None)
                self._floor.pop(payment_id, None)
                if self.interest is not None:
                    self.interest.unwatch(payment_id)
        client.forget(payment_id)

    def watching_any(self) -> bool:
        return bool(self._watchers)

    def watched(self) -> list[UUID]:
        return list(self._watchers)

    # slow clients --------------------------------------------------------------------------

    async def close_stuck_clients(self) -> None:
        """Every ``slow_after / 2`` seconds (or ``ping_every / 2``, if shorter), close the
        clients whose send has not finished within ``slow_after``, ping the ones quiet
        for ``ping_every`` and raise the timeline floors: one timer for all of them
        instead of one per client."""
        while True:
            await asyncio.sleep(min(self.slow_after, self.ping_every) / 2)
            now = time.monotonic()
            closed = sum(client.tick(now) for client in list(self.clients))
            self.raise_floors()
            if closed:
                log.info("closed %d client(s) that stopped reading", closed)

    # fan-out -----------------------------------------------------------------------------

    async def publish(self, notifications: Iterable[Notification]) -> int:
        """Offer each watched payment's newest state to its watchers; returns payments sent."""
        newest: dict[UUID, Notification] = {}
        for note in notifications:
            if note.payment_id not in self._watchers:
                continue
            if note.version <= self._known.get(note.payment_id, 0):
                continue  # duplicate, or already covered
            seen = newest.get(note.payment_id)
            if seen is None or note.version > seen.version:
                newest[note.payment_id] = note
        if not newest:
            return 0
        since = {pid: self._floor.get(pid, 0) for pid in newest}
        async with self.store.connection() as db:
            payments, entries = await db.states_since(since)
        for payment in payments:
            watchers = self._watchers.get(payment.id)
            if not watchers:
                continue
            # Offers are idempotent per client, so a concurrent publish of the same or an
            # older state (listener and catch-up racing) is harmless.
            self._known[payment.id] = max(self._known.get(payment.id, 0), payment.version)
            state = payment_state(payment)
            timeline = entries_json(_up_to(entries.get(payment.id, []), payment.version))
            committed_at = newest[payment.id].committed_at
            for client in watchers:
                client.offer(payment.id, "update", state, timeline, committed_at)
            if committed_at is not None:  # commit -> the last socket written at once
                self.stats.observe_push(time.time() - committed_at)
        return len(payments)

    def raise_floors(self) -> None:
        """Each floor up to the oldest version its watchers hold, where it may have risen
        (below what was fanned out)."""
        for payment_id in self._watchers:
            if self._floor.get(payment_id, 0) < self._known.get(payment_id, 0):
                self._floor[payment_id] = self._oldest_delivered(payment_id)

    def _oldest_delivered(self, payment_id: UUID) -> int:
        watchers = self._watchers.get(payment_id, ())
        return min((c.versions.get(payment_id, 0) for c in watchers), default=0)

    async def catch_up(self) -> int:
        """Compare watched payments with the database; publish what notifications missed."""
        watched = self.watched()
        if not watched:
            return 0
        async with self.store.connection() as db:
            versions = await db.current_versions(watched)
        behind = [
            Notification(pid, version)
            for pid, version in versions.items()
            if version > self._known.get(pid, 0)
        ]
        if behind:
            log.info("catch-up found %d payment(s) ahead of their pushes", len(behind))
        return await self.publish(behind) if behind else 0
