"""The delivery worker against a real receiver: signed, in order, retried, 410, failure."""

from __future__ import annotations

import asyncio

from service.db.notifications_repo import NotificationRecord, NotificationsStore
from service.db.pool import Pool
from service.db.store import PgStore
from service.http.serialize import payment_out
from service.notifications.worker import DeliveryWorker
from tests.notifications.conftest import fast_config, running_worker
from tests.notifications.receiver import (
    Delivery,
    Receiver,
    ordered_per_payment,
    receiving,
    wait_for,
)
from tests.support.payments import add_payment, change


async def test_a_change_arrives_signed_with_what_the_api_shows(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    async with (
        receiving(Receiver()) as receiver,
        running_worker(pool, database_url, fast_config([receiver.url])),
    ):
        payment = await add_payment(store, {"seat": "F7"})
        succeeded = await change(store, payment, "succeeded")
        await wait_for(lambda: len(receiver.delivered()) == 2)
    assert receiver.rejected == 0
    created, paid = receiver.delivered()
    assert created.payload["type"] == "payment.created"
    assert paid.payload["type"] == "payment.succeeded"
    data = paid.payload["data"]
    view = payment_out(succeeded).model_dump(mode="json")
    assert {k: data[k] for k in view} == view
    assert data["customer"] is None
    assert data["cause"] == {"kind": "test", "type": "api", "id": None}
    assert created.webhook_id != paid.webhook_id


async def test_retries_keep_the_id_and_the_order(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    failures: dict[str, int] = {}

    async def flaky(d: Delivery) -> int:
        # Every notification fails twice before it is taken.
        failures[d.webhook_id] = failures.get(d.webhook_id, 0) + 1
        return 503 if failures[d.webhook_id] <= 2 else 200

    async with (
        receiving(Receiver(answer=flaky)) as receiver,
        running_worker(pool, database_url, fast_config([receiver.url])),
    ):
        payment = await add_payment(store)
        for status in ("processing", "requires_action", "processing", "succeeded"):
            payment = await change(store, payment, status)
        await wait_for(lambda: len(receiver.delivered()) == 5)
    delivered = receiver.delivered()
    assert [d.key[1] for d in delivered] == [1, 2, 3, 4, 5]
    assert len(receiver.deliveries) == 15  # 3 requests per notification
    for d in delivered:
        tries = [x for x in receiver.deliveries if x.webhook_id == d.webhook_id]
        assert [x.status for x in tries] == [503, 503, 200]
        assert {x.key for x in tries} == {d.key}
    notes = await NotificationsStore(pool).list(payment.id, "delivered", 10)
    assert sorted(len(n.attempts) for n in notes) == [3] * 5
    assert all(n.attempts[0].http_status == 503 and n.attempts[0].error for n in notes)


async def test_an_endpoint_down_for_a_while_gets_everything_in_order(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    receiver = Receiver()  # not listening yet: connection refused
    config = fast_config([receiver.url], retry_schedule=[0.05] * 40)
    async with running_worker(pool, database_url, config) as worker:
        payments = [await add_payment(store) for _ in range(3)]
        for p in payments:
            await change(store, await change(store, p, "processing"), "succeeded")
        await wait_for(lambda: worker.stats.retries >= 6)
        async with receiving(receiver):
            await wait_for(lambda: len(receiver.delivered()) == 9)
    assert ordered_per_payment(receiver.delivered())
    assert len({d.webhook_id for d in receiver.delivered()}) == 9
    assert receiver.deliveries == receiver.delivered()  # nothing sent twice once back
    notes = sorted(await NotificationsStore(pool).list(payments[0].id, None, 10), key=_version)
    assert [n.status for n in notes] == ["delivered"] * 3
    first, *later = notes
    assert len(first.attempts) >= 2
    assert first.attempts[0].http_status is None
    assert "ClientConnectorError" in (first.attempts[0].error or "")
    # Later versions waited behind the first: never tried while the endpoint was down.
    assert [[a.http_status for a in n.attempts] for n in later] == [[204], [204]]


def _version(n: NotificationRecord) -> int:
    return n.version


async def test_after_the_schedule_it_fails_and_the_next_version_goes(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    async def refuse_created(d: Delivery) -> int:
        return 500 if d.payload["type"] == "payment.created" else 200

    config_kw = {"retry_schedule": [0.02, 0.02]}
    async with (
        receiving(Receiver(answer=refuse_created)) as receiver,
        running_worker(pool, database_url, fast_config([receiver.url], **config_kw)) as worker,
    ):
        payment = await add_payment(store)
        await change(store, payment, "canceled")
        await wait_for(lambda: len(receiver.delivered()) == 1)
        assert worker.stats.failed == 1
    assert [d.status for d in receiver.deliveries] == [500, 500, 500, 200]
    assert receiver.delivered()[0].payload["type"] == "payment.canceled"
    failed = await NotificationsStore(pool).list(payment.id, "failed", 10)
    assert [(n.version, len(n.attempts), n.last_error) for n in failed] == [(1, 3, "HTTP 500")]


async def test_410_disables_the_endpoint_until_a_retry(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    gone = True

    async def answer(_: Delivery) -> int:
        return 410 if gone else 200

    async with (
        receiving(Receiver(answer=answer)) as receiver,
        running_worker(pool, database_url, fast_config([receiver.url])) as worker,
    ):
        payment = await add_payment(store)
        await change(store, payment, "succeeded")
        await wait_for(lambda: worker.stats.endpoints_disabled == 1)
        await asyncio.sleep(0.3)  # three polls: nothing more is sent to a disabled endpoint
        assert [d.status for d in receiver.deliveries] == [410]
        notes = NotificationsStore(pool)
        first = (await notes.list(payment.id, None, 10))[-1]
        assert (first.version, first.status, first.endpoint_disabled) == (1, "pending", True)
        gone = False
        retried = await notes.retry(first.id)
        assert retried is not None
        assert not retried.endpoint_disabled
        worker.nudge()
        await wait_for(lambda: len(receiver.delivered()) == 2)
    assert [d.key[1] for d in receiver.delivered()] == [1, 2]


async def test_while_there_is_no_room_nothing_is_claimed(
    pool: Pool, store: PgStore, database_url: str
) -> None:
    """The delivery process's wait for a busy web process: asked before every claim with
    the moment the worker fell behind, unchanged until it has caught up."""
    room_now = asyncio.Event()
    asked: list[float] = []

    async def room(since: float) -> None:
        asked.append(since)
        await room_now.wait()

    async with receiving(Receiver()) as receiver:
        config = fast_config([receiver.url], concurrency=1)
        async with running_worker(pool, database_url, config, room=room):
            for _ in range(3):
                await add_payment(store)
            await asyncio.sleep(0.3)
            assert receiver.deliveries == []  # the worker is waiting for room
            room_now.set()
            await wait_for(lambda: len(receiver.delivered()) == 3)
            # Caught up, the next look (a poll) is behind from a later moment.
            await wait_for(lambda: asked[-1] > asked[0])
            await add_payment(store)
            await wait_for(lambda: len(receiver.delivered()) == 4)
    first = asked[0]
    behind = [since for since in asked if since == first]
    assert len(behind) >= 3  # one slot, three due: three claims while behind


async def test_stop_ends_the_worker_however_often_it_is_nudged(
    pool: Pool, database_url: str
) -> None:
    """A cancellation landing as the worker is woken must still stop it (Python 3.11's
    ``wait_for`` dropped such a cancellation, and an app's teardown waited forever)."""
    loop = asyncio.get_running_loop()
    async with receiving(Receiver()) as receiver:
        for round_ in range(30):
            worker = DeliveryWorker(
                NotificationsStore(pool), database_url, fast_config([receiver.url])
            )
            await worker.start()
            nudging = asyncio.Event()
            nudging.set()

            def nudge(w: DeliveryWorker = worker, on: asyncio.Event = nudging) -> None:
                if on.is_set():  # on every turn of the loop until the worker stopped
                    w.nudge()
                    loop.call_soon(nudge)

            nudge()
            await asyncio.sleep(0.001 * (round_ % 7))
            try:
                async with asyncio.timeout(5):
                    await worker.stop()
            finally:
                nudging.clear()
