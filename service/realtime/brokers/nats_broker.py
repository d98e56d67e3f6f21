"""Fan-out through NATS core subjects: one subject per payment, one subscription per
watched payment on this process's connection. nats-py's own reconnect is off, so a
lost connection reaches ``_keep_connected`` (resubscribe, catch-up) like Redis's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from service.db.store import Committed
from service.realtime.brokers.remote import RemoteBroker, encode

SUBJECT_PREFIX = "paylive.payment."


def subject(payment_id: UUID) -> str:
    return f"{SUBJECT_PREFIX}{payment_id}"


class NatsBroker(RemoteBroker):
    name = "nats"
    _nc: Client | None = None
    _lost: asyncio.Event  # per connection, from _open
    _subs: dict[UUID, Subscription]

    async def _open(self) -> None:
        self._lost = asyncio.Event()
        self._subs = {}
        self._nc = await nats.connect(
            self.url,
            allow_reconnect=False,
            connect_timeout=2,
            ping_interval=max(1, int(self.probe_every)),
            max_outstanding_pings=2,
            disconnected_cb=self._on_lost,
            closed_cb=self._on_lost,
            error_cb=self._on_error,
        )

    async def _on_lost(self) -> None:
        self._lost.set()

    async def _on_error(self, exc: Exception) -> None:
        self._lost.set()

    async def _on_message(self, msg: Msg) -> None:
        self.received(msg.data)

    async def _until_lost(self) -> None:
        await self._lost.wait()

    async def _close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            await nc.close()

    def _connected(self) -> Client:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("not connected")
        return self._nc

    async def _send(self, batch: Sequence[Committed]) -> None:
        nc = self._connected()
        for payment_id, version, ts in batch:
            await nc.publish(subject(payment_id), encode(payment_id, version, ts))

    async def _subscribe(self, payment_ids: Sequence[UUID]) -> None:
        nc = self._connected()
        for pid in payment_ids:
            self._subs[pid] = await nc.subscribe(subject(pid), cb=self._on_message)
        await nc.flush(timeout=2)  # the server has them: nothing published from now is missed

    async def _unsubscribe(self, payment_ids: Sequence[UUID]) -> None:
        for pid in payment_ids:
            sub = self._subs.pop(pid, None)
            if sub is not None:
                await sub.unsubscribe()
