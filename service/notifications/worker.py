"""The delivery worker: claims due notifications, POSTs them signed, records the answer.

Any number of processes may run one: rows are claimed with ``FOR UPDATE SKIP LOCKED`` and
held by a lease, so none is sent twice at once and one a dead process held is taken over
once its lease has passed. Its own ``ClientSession`` and at most ``concurrency`` requests
per endpoint: a slow merchant only ever holds this worker's slots, never the pool's
connections (no transaction is open during a request) nor the event loop. Answers are
recorded by a ``Finisher``: those that arrive during one write go together in the next.

It wakes on the change channel's NOTIFY (every committed change, any process; in a
delivery process, its web process's word instead), after each delivery (the payment's
next version may be waiting), when a retry it scheduled is due, and every
``poll_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import asyncpg

from service.config import Settings
from service.db.notifications_repo import (
    AttemptRecord,
    Backlog,
    Claimed,
    Endpoint,
    Finish,
    NotificationsStore,
    Status,
)
from service.db.payments_repo import NOTIFY_CHANNEL
from service.notifications.finisher import Finisher
from service.notifications.schedule import after_attempt
from service.notifications.signing import Signer, body
from service.notifications.stats import DeliveryStats

log = logging.getLogger(__name__)

_COALESCE_SECONDS = 0.005
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class DeliveryConfig:
    urls: Sequence[str]
    secrets: Sequence[str]
    timeout_seconds: float
    retry_schedule: Sequence[float]
    concurrency: int  # per endpoint
    poll_seconds: float

    @property
    def lease_seconds(self) -> float:
        """Longer than any request may take, so a live sender never loses its lease."""
        return self.timeout_seconds * 1.5 + 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            urls=settings.merchant_webhook_urls,
            secrets=[s.get_secret_value() for s in settings.merchant_webhook_secret],
            timeout_seconds=settings.merchant_webhook_timeout_seconds,
            retry_schedule=settings.merchant_webhook_retry_schedule,
            concurrency=settings.merchant_webhook_concurrency,
            poll_seconds=settings.merchant_webhook_poll_seconds,
        )


class DeliveryWorker:
    def __init__(
        self,
        store: NotificationsStore,
        dsn: str,
        config: DeliveryConfig,
        *,
        room: Callable[[float], Awaitable[None]] | None = None,
        listen: bool = True,
    ) -> None:
        """``room(since)``: awaited before each claim, with the moment the oldest due
        notification not yet claimed has been waiting since (a delivery process waits
        out a busy web process, for a bounded time). ``listen`` False: no LISTEN
        connection, the owner calls ``nudge`` (a delivery process is told by its web
        process)."""
        self.store = store
        self._listen_enabled = listen
        self._behind_since: float | None = None  # None: caught up at the last claim
        self._stopping = False
        self._room = room
        self.config = config
        self.stats = DeliveryStats()
        self._finisher = Finisher(store.finish)
        self._dsn = dsn
        self._signer = Signer(config.secrets)
        self._wake = asyncio.Event()
        self._slot_freed = False
        self._endpoints: list[Endpoint] = []
        self._in_flight: dict[int, set[asyncio.Task[None]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._listen: asyncpg.Connection | None = None
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._endpoints = await self.store.sync_endpoints(list(self.config.urls))
        self._in_flight = {e.id: set() for e in self._endpoints}
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=self.config.concurrency),
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
        )
        await self._listen_for_changes()
        self._wake.set()  # what is due already (a backlog, changes before LISTEN) goes now
        self._loop_task = asyncio.create_task(self._run(), name="notification-delivery")

    async def stop(self) -> None:
        """Stop claiming; requests in flight get a moment (the request timeout, at most
        ``STOP_GRACE_SECONDS``) to be answered and recorded, so a restart does not send
        them again; then they are cancelled, their leases lapse and another run retries."""
        self._stopping = True  # the loop ends even if a cancellation were lost
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        in_flight = [t for group in self._in_flight.values() for t in group]
        if in_flight:
            await asyncio.wait(
                in_flight, timeout=min(self.config.timeout_seconds, STOP_GRACE_SECONDS)
            )
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        await self._finisher.drain()
        if self._listen is not None:
            with contextlib.suppress(Exception):
                await self._listen.close(timeout=2)
        if self._session is not None:
            await self._session.close()

    def nudge(self) -> None:
        """Look for due notifications now (a retry was asked for, a change committed)."""
        self._wake.set()

    async def _listen_for_changes(self) -> None:
        if not self._listen_enabled:
            return
        try:
            self._listen = await asyncpg.connect(self._dsn)
            await self._listen.add_listener(NOTIFY_CHANNEL, lambda *_: self.nudge())
        except (OSError, asyncpg.PostgresError) as exc:
            self._listen = None
            log.warning("notifications: no LISTEN connection (%s); polling only", exc)

    async def _wait_for_wake(self) -> None:
        """Until nudged, or ``poll_seconds``. ``asyncio.timeout``, not ``wait_for``:
        Python 3.11's ``wait_for`` drops a cancellation that lands as the event is set,
        and this loop then never stopped (a test session hung in an app's teardown)."""
        try:
            async with asyncio.timeout(self.config.poll_seconds):
                await self._wake.wait()
        except TimeoutError:
            return
        if not self._slot_freed:
            # Woken by a commit: let the changes committing right now join this claim,
            # so busy ingestion costs one claim per few ms, not per change.
            await asyncio.sleep(_COALESCE_SECONDS)

    async def _run(self) -> None:
        last_backlog = 0.0
        while not self._stopping:
            await self._wait_for_wake()
            self._wake.clear()
            self._slot_freed = False
            try:
                if self._listen is None or self._listen.is_closed():
                    await self._listen_for_changes()  # nothing to do when not listening
                if self._behind_since is None:
                    self._behind_since = time.monotonic()
                if self._room is not None:
                    await self._room(self._behind_since)
                if await self._claim_and_send():
                    self._behind_since = None
                if time.monotonic() - last_backlog >= self.config.poll_seconds:
                    last_backlog = time.monotonic()
                    self.stats.backlog = await self.store.backlog()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("notifications: database unavailable (%s); retrying", exc)

    async def _claim_and_send(self) -> bool:
        """Claim what the free slots can take; whether that was all that is due."""
        caught_up = True
        for endpoint in self._endpoints:
            running = self._in_flight[endpoint.id]
            free = self.config.concurrency - len(running)
            if free <= 0:
                caught_up = False
                continue
            claims = await self.store.claim(endpoint.id, free, self.config.lease_seconds)
            caught_up = caught_up and len(claims) < free
            for claimed in claims:
                task = asyncio.create_task(self._deliver(endpoint, claimed))
                running.add(task)
                task.add_done_callback(running.discard)
        return caught_up

    async def _deliver(self, endpoint: Endpoint, claimed: Claimed) -> None:
        assert self._session is not None
        payload = body(claimed.type, claimed.created_at, claimed.data)
        sent_at = datetime.now(UTC)
        headers = self._signer.headers(claimed.webhook_id, sent_at, payload)
        status: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            async with self._session.post(
                endpoint.url, data=payload.encode(), headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
        except TimeoutError:
            error = f"timed out after {self.config.timeout_seconds:g} s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempt = AttemptRecord(sent_at, status, error, (time.perf_counter() - started) * 1000)
        await self._record(endpoint, claimed, status, attempt)
        self._slot_freed = True  # claim again at once: this payment's next version may wait
        self.nudge()

    async def _record(
        self, endpoint: Endpoint, claimed: Claimed, status: int | None, attempt: AttemptRecord
    ) -> None:
        outcome = after_attempt(status, claimed.attempts, self.config.retry_schedule)
        try:
            if outcome.verdict == "endpoint_gone":
                log.warning("notifications: endpoint %d answered 410 Gone; disabled", endpoint.id)
                await self.store.disable_endpoint(claimed, "410 Gone")
                await self._finisher.finish(Finish(claimed, "pending", 0.0, attempt))
                self.stats.endpoints_disabled += 1
                return
            after: Status = "pending" if outcome.verdict == "retry" else outcome.verdict
            held = await self._finisher.finish(Finish(claimed, after, outcome.retry_in, attempt))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("notifications: could not record an attempt (%s)", exc)
            return  # the lease lapses and the notification is sent again
        self.stats.count(outcome.verdict, held)
        if outcome.verdict == "retry" and outcome.retry_in < self.config.poll_seconds:
            # Due before the next poll: look again then, not a poll later.
            asyncio.get_running_loop().call_later(outcome.retry_in, self.nudge)
        if outcome.verdict == "failed":
            log.warning(
                "notifications: %s failed for good after %d attempts (endpoint %d)",
                claimed.webhook_id,
                claimed.attempts,
                endpoint.id,
            )


__all__ = ("Backlog", "DeliveryConfig", "DeliveryWorker")
