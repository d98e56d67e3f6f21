"""Delivery by real service processes: two at once, and one killed mid-request."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import pytest

from service.db.notifications_repo import NotificationsStore
from service.db.pool import Pool
from service.db.store import PgStore
from tests.notifications.receiver import (
    Delivery,
    Receiver,
    ordered_per_payment,
    receiving,
    wait_for,
)
from tests.notifications.services import children_of, running_service, service_env
from tests.support.payments import add_payment, change

pytestmark = pytest.mark.slow


async def test_two_processes_never_send_one_notification_twice_at_once(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    tries: dict[str, int] = {}

    async def slow_and_flaky(d: Delivery) -> int:
        tries[d.webhook_id] = tries.get(d.webhook_id, 0) + 1
        await asyncio.sleep(0.05)
        return 500 if tries[d.webhook_id] == 1 else 200

    receiver = Receiver(answer=slow_and_flaky)
    env = service_env(database_url, receiver, MERCHANT_WEBHOOK_CONCURRENCY="1")
    async with receiving(receiver), running_service(env), running_service(env):
        payments = [await add_payment(store) for _ in range(8)]
        for p in payments:
            await change(store, await change(store, p, "processing"), "succeeded")
        await wait_for(lambda: len(receiver.delivered()) == 24, seconds=60)
    delivered = receiver.delivered()
    assert receiver.overlaps == []
    assert receiver.most_open == 2  # both processes sent at once, each at most one at a time
    assert len({d.webhook_id for d in delivered}) == 24  # each delivered exactly once
    assert ordered_per_payment(delivered)
    assert len(receiver.deliveries) == 48  # one refused try each, none repeated beyond it


async def test_kill_9_mid_request_is_sent_again_with_the_same_id(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    first_try = asyncio.Event()
    hold = asyncio.Event()  # never set: the first request hangs until its process dies
    hung: list[str] = []

    async def hang_the_first(d: Delivery) -> int:
        if not first_try.is_set():
            first_try.set()
            hung.append(d.webhook_id)
            await hold.wait()
        return 200

    receiver = Receiver(answer=hang_the_first)
    env = service_env(database_url, receiver)
    async with receiving(receiver):
        try:
            delivered = await _kill_then_deliver(env, store, receiver, first_try)
        finally:
            hold.set()  # lets the orphaned request end, so the receiver stops at once
    created, succeeded = delivered
    assert (created.payload["type"], succeeded.payload["type"]) == (
        "payment.created",
        "payment.succeeded",
    )
    assert hung == [created.webhook_id]  # the request that hung is the one delivered after
    notes = await NotificationsStore(pool).list(uuid.UUID(created.key[0]), "delivered", 10)
    first = next(n for n in notes if n.version == 1)
    # The killed attempt left no answer; the next process's attempt is the one recorded.
    assert [a.http_status for a in first.attempts] == [200]


async def _kill_then_deliver(
    env: dict[str, str], store: PgStore, receiver: Receiver, first_try: asyncio.Event
) -> list[Delivery]:
    """A process dies mid-request (SIGKILL); the next one delivers both notifications."""
    async with running_service(env) as doomed:
        payment = await add_payment(store)
        await asyncio.wait_for(first_try.wait(), 20)
        # As a crash would: the web process and the delivery process it started.
        for pid in [*children_of(doomed.process.pid), doomed.process.pid]:
            os.kill(pid, signal.SIGKILL)
        doomed.process.wait(timeout=10)
        assert receiver.delivered() == []
    async with running_service(env):
        await change(store, payment, "succeeded")
        await wait_for(lambda: len(receiver.delivered()) == 2, seconds=30)
    return receiver.delivered()
