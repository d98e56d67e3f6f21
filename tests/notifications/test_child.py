"""Delivery in a child process (MERCHANT_WEBHOOK_DELIVERY=process, what `serve` runs):
lower priority, counters in the parent's /metrics, nudged by a retry, restarted when it
dies, never outliving its parent."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from service.db.notifications_repo import NotificationsStore
from service.db.store import PgStore
from tests.notifications.receiver import Delivery, Receiver, receiving, wait_for
from tests.notifications.services import (
    alive,
    children_of,
    proc_stat,
    running_service,
    service_env,
)
from tests.support.payments import add_payment, change
from tests.support.settings import TEST_API_KEY

pytestmark = pytest.mark.slow
API = {"Authorization": f"Bearer {TEST_API_KEY}"}


async def _child_of(pid: int, other_than: int | None = None) -> int:
    for _ in range(200):
        children = [c for c in children_of(pid) if c != other_than and alive(c)]
        if children:
            return children[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"process {pid} has no delivery child")


async def _metric(url: str, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_serve_delivers_from_a_child_at_lower_priority(
    store: PgStore, database_url: str
) -> None:
    receiver = Receiver()
    async with receiving(receiver), running_service(service_env(database_url, receiver)) as web:
        child = await _child_of(web.process.pid)
        assert b"deliver" in Path(f"/proc/{child}/cmdline").read_bytes()  # noqa: ASYNC240 - /proc
        payment = await add_payment(store)
        await change(store, payment, "succeeded")
        await wait_for(lambda: len(receiver.delivered()) == 2, seconds=20)
        nice = int(proc_stat(child)[16])  # set by the child itself before it delivers
        assert nice == min(19, int(proc_stat(web.process.pid)[16]) + 10)
        # The parent's /metrics carries the child's counters (reported once a second).
        for _ in range(100):
            if await _metric(web.url, "paylive_notifications_delivered_total") == 2:
                break
            await asyncio.sleep(0.1)
        assert await _metric(web.url, "paylive_notifications_delivered_total") == 2
    assert [d.payload["type"] for d in receiver.delivered()] == [
        "payment.created",
        "payment.succeeded",
    ]


async def test_a_retry_asked_of_the_parent_wakes_the_child(
    store: PgStore, database_url: str
) -> None:
    healed = False

    async def refuse_until_healed(_: Delivery) -> int:
        return 200 if healed else 500

    receiver = Receiver(answer=refuse_until_healed)
    # One retry, then failed; polling every 300 s: only the nudge can send it again soon.
    env = service_env(
        database_url,
        receiver,
        MERCHANT_WEBHOOK_RETRY_SCHEDULE="0.05",
        MERCHANT_WEBHOOK_POLL_SECONDS="300",
    )
    # Written before the service starts (to the endpoint it will have): its delivery
    # process sends it as it starts.
    await NotificationsStore(store.pool).sync_endpoints([receiver.url])
    payment = await add_payment(store)
    async with receiving(receiver), running_service(env) as web:
        await wait_for(lambda: len(receiver.deliveries) == 2, seconds=20)
        async with aiohttp.ClientSession(headers=API) as session:
            url = f"{web.url}/api/notifications?payment_id={payment.id}&status=failed"
            for _ in range(100):
                async with session.get(url) as response:
                    failed = (await response.json())["data"]
                if failed:
                    break
                await asyncio.sleep(0.1)
            healed = True
            retry = f"{web.url}/api/notifications/{failed[0]['id']}/retry"
            async with session.post(retry) as response:
                assert response.status == 200
            await wait_for(lambda: len(receiver.delivered()) == 1, seconds=10)
    assert [d.status for d in receiver.deliveries] == [500, 500, 200]


async def test_a_child_that_dies_is_started_again(store: PgStore, database_url: str) -> None:
    receiver = Receiver()
    async with receiving(receiver), running_service(service_env(database_url, receiver)) as web:
        first = await _child_of(web.process.pid)
        os.kill(first, signal.SIGKILL)
        second = await _child_of(web.process.pid, other_than=first)
        assert second != first
        await add_payment(store)
        await wait_for(lambda: len(receiver.delivered()) == 1, seconds=20)


async def test_the_child_never_outlives_its_parent(database_url: str) -> None:
    receiver = Receiver()
    async with receiving(receiver), running_service(service_env(database_url, receiver)) as web:
        child = await _child_of(web.process.pid)
        web.process.kill()  # SIGKILL: no chance to stop its child
        web.process.wait(timeout=10)
        for _ in range(200):
            if not alive(child):
                break
            await asyncio.sleep(0.05)
        assert not alive(child)
