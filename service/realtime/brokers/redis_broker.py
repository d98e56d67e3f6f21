"""Fan-out through Redis pub/sub: one channel per payment, one pub/sub connection per
process subscribed only to the payments its clients watch, publishes pipelined."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.db.store import Committed
from service.realtime.brokers.remote import RemoteBroker, encode

CHANNEL_PREFIX = "paylive:payment:"
HELLO_CHANNEL = "paylive:hello"  # always subscribed, so the reader has a connection


def channel(payment_id: UUID) -> str:
    return f"{CHANNEL_PREFIX}{payment_id}"


class RedisBroker(RemoteBroker):
    name = "redis"
    _client: aioredis.Redis | None = None
    _pubsub: PubSub | None = None

    async def _open(self) -> None:
        # No silent retries inside redis-py: a lost connection must reach _keep_connected,
        # which resubscribes and runs the catch-up.
        client = aioredis.Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
            socket_timeout=self.probe_every * 2,
            health_check_interval=self.probe_every,
        )
        self._client = client
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub = pubsub
        await pubsub.subscribe(HELLO_CHANNEL)

    async def _until_lost(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        while True:
            # redis-py PINGs every health_check_interval from here: a dead peer raises.
            message = await pubsub.get_message(timeout=self.probe_every)
            if message is not None and message.get("type") == "message":
                self.received(message["data"])

    async def _close(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        if pubsub is not None:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        if client is not None:
            await client.aclose()

    async def _send(self, batch: Sequence[Committed]) -> None:
        if self._client is None:
            raise ConnectionError("not connected")
        async with self._client.pipeline(transaction=False) as pipe:
            for payment_id, version, ts in batch:
                pipe.publish(channel(payment_id), encode(payment_id, version, ts))
            await pipe.execute()

    async def _subscribe(self, payment_ids: Sequence[UUID]) -> None:
        assert self._pubsub is not None
        await self._pubsub.subscribe(*(channel(pid) for pid in payment_ids))

    async def _unsubscribe(self, payment_ids: Sequence[UUID]) -> None:
        assert self._pubsub is not None
        await self._pubsub.unsubscribe(*(channel(pid) for pid in payment_ids))
