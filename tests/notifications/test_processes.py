"""Delivery by real service processes: two at once, and one killed mid-request."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import aiohttp
import pytest

from service.db.notifications_repo import NotificationsStore
from service.db.pool import Pool
from service.db.store import PgStore
from tests.notifications.receiver import (
    SECRET,
    Delivery,
    Receiver,
    ordered_per_payment,
    receiving,
    wait_for,
)
from tests.support.payments import add_payment, change
from tests.support.processes import free_port, spawn_service, wait_ready
from tests.support.settings import TEST_API_KEY

pytestmark = pytest.mark.slow


def _env(database_url: str, receiver: Receiver, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": "sk_test_paylive_notify",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "API_KEYS": TEST_API_KEY,
        "RECONCILE_ENABLED": "false",
        "MERCHANT_WEBHOOK_URLS": receiver.url,
        "MERCHANT_WEBHOOK_SECRET": SECRET,
        "MERCHANT_WEBHOOK_TIMEOUT_SECONDS": "1",  # a lease of 2.5 s
        "MERCHANT_WEBHOOK_RETRY_SCHEDULE": "0.05,0.05,0.05,0.05,0.05",
        "MERCHANT_WEBHOOK_POLL_SECONDS": "0.1",
        **extra,
    }


@contextmanager
def _stopped_at_exit(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@asynccontextmanager
async def _service(env: dict[str, str]) -> AsyncIterator[subprocess.Popen[bytes]]:
    port = free_port()
    process = spawn_service(env, "--port", str(port))
    with _stopped_at_exit([process]):
        async with aiohttp.ClientSession() as session:
            assert await wait_ready(session, f"http://127.0.0.1:{port}")
        yield process


async def test_two_processes_never_send_one_notification_twice_at_once(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    tries: dict[str, int] = {}

    async def slow_and_flaky(d: Delivery) -> int:
        tries[d.webhook_id] = tries.get(d.webhook_id, 0) + 1
        await asyncio.sleep(0.05)
        return 500 if tries[d.webhook_id] == 1 else 200

    receiver = Receiver(answer=slow_and_flaky)
    env = _env(database_url, receiver, MERCHANT_WEBHOOK_CONCURRENCY="1")
    async with receiving(receiver), _service(env), _service(env):
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
    env = _env(database_url, receiver)
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
    async with _service(env) as doomed:
        payment = await add_payment(store)
        await asyncio.wait_for(first_try.wait(), 20)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        assert receiver.delivered() == []
    async with _service(env):
        await change(store, payment, "succeeded")
        await wait_for(lambda: len(receiver.delivered()) == 2, seconds=30)
    return receiver.delivered()
