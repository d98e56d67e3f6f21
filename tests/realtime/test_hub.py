"""The hub alone, on a real database: what each client is offered, whatever the timing."""

from __future__ import annotations

import asyncio
import json

from service.db.store import PgStore
from service.realtime.hub import Hub, Notification
from service.realtime.stats import RealtimeStats
from service.realtime.subscriber import Kind, Subscriber
from tests.support.payments import add_payment, change


class Recorder:
    """A client transport that keeps what it was sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []

    async def send(self, kind: Kind, version: int | None, text: str) -> None:
        self.messages.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        pass


async def _drain(client: Subscriber) -> None:
    """Let the writer task send what is pending."""
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_late_subscriber_does_not_hide_a_change_from_earlier_ones(store: PgStore) -> None:
    hub = Hub(store, RealtimeStats())
    payment = await add_payment(store)
    a, b = Recorder(), Recorder()
    async with (
        hub.connected(a.send, a.close) as client_a,
        hub.connected(b.send, b.close) as client_b,
    ):
        await hub.subscribe(client_a, payment.id, 0)
        await _drain(client_a)
        # v2 commits; before its notification is handled, B subscribes and reads v2.
        payment = await change(store, payment, "processing")
        await hub.subscribe(client_b, payment.id, 0)
        await hub.publish([Notification(payment.id, 2)])
        await _drain(client_a)
        await _drain(client_b)
    assert [(m["type"], m["version"]) for m in a.messages] == [("snapshot", 1), ("update", 2)]
    assert [(m["type"], m["version"]) for m in b.messages] == [("snapshot", 2)]


async def test_catch_up_finds_what_no_notification_announced(store: PgStore) -> None:
    hub = Hub(store, RealtimeStats())
    payment = await add_payment(store)
    a = Recorder()
    async with hub.connected(a.send, a.close) as client:
        await hub.subscribe(client, payment.id, 0)
        for status in ("requires_action", "processing"):
            payment = await change(store, payment, status)
        assert await hub.catch_up() == 1
        await _drain(client)
        assert await hub.catch_up() == 0  # nothing new the second time
    update = a.messages[-1]
    assert (update["type"], update["version"]) == ("update", 3)
    assert [e["version"] for e in update["timeline"]] == [2, 3]  # type: ignore[attr-defined]


async def test_a_first_subscription_leaves_nothing_for_catch_up(store: PgStore) -> None:
    """Its snapshot is what fan-out has offered to every watcher (there is one): a
    catch-up finds nothing ahead, until a change commits unannounced."""
    hub = Hub(store, RealtimeStats())
    payment = await add_payment(store)
    payment = await change(store, payment, "requires_action")
    a = Recorder()
    async with hub.connected(a.send, a.close) as client:
        await hub.subscribe(client, payment.id, 0)
        assert await hub.catch_up() == 0
        await change(store, payment, "processing")
        assert await hub.catch_up() == 1
        await _drain(client)
    assert [(m["type"], m["version"]) for m in a.messages] == [("snapshot", 2), ("update", 3)]


class Stuck(Recorder):
    """A client that stopped reading: its socket is full, every send waits for ever."""

    def __init__(self) -> None:
        super().__init__()
        self.closed_with: int | None = None

    async def send(self, kind: Kind, version: int | None, text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code

    def close_code(self) -> int | None:
        return self.closed_with


async def test_a_client_whose_send_never_finishes_is_closed_and_others_go_on(
    store: PgStore,
) -> None:
    hub = Hub(store, RealtimeStats(), slow_after=0.2)
    payment = await add_payment(store)
    stuck, reader = Stuck(), Recorder()
    watchdog = asyncio.create_task(hub.close_stuck_clients())
    try:
        async with (
            hub.connected(stuck.send, stuck.close) as slow,
            hub.connected(reader.send, reader.close) as fine,
        ):
            await hub.subscribe(slow, payment.id, 0)
            await hub.subscribe(fine, payment.id, 0)
            await asyncio.sleep(0.1)
            assert stuck.close_code() is None  # not before slow_after
            payment = await change(store, payment, "processing")
            await hub.publish([Notification(payment.id, 2)])
            for _ in range(50):
                if stuck.close_code() is not None:
                    break
                await asyncio.sleep(0.02)
            await _drain(fine)
    finally:
        watchdog.cancel()
    assert stuck.close_code() == 4008
    assert hub.stats.slow_closes == 1
    assert [(m["type"], m["version"]) for m in reader.messages] == [("snapshot", 1), ("update", 2)]


class Direct(Recorder):
    """A transport that takes a message at once unless told it is full (``write_now``),
    as a WebSocket under its buffer limit does; ``send`` is the waiting way."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False
        self.waited: list[dict[str, object]] = []

    def write_now(self, text: str) -> bool:
        if self.full:
            return False
        self.messages.append(json.loads(text))
        return True

    async def send(self, kind: Kind, version: int | None, text: str) -> None:
        self.waited.append(json.loads(text))
        self.messages.append(json.loads(text))


async def test_a_client_that_keeps_up_is_written_in_the_fan_outs_own_pass(
    store: PgStore,
) -> None:
    hub = Hub(store, RealtimeStats())
    payment = await add_payment(store)
    direct = Direct()
    async with hub.connected(direct.send, direct.close, direct.write_now) as client:
        await hub.subscribe(client, payment.id, 0)
        payment = await change(store, payment, "processing")
        await hub.publish([Notification(payment.id, 2)])
        # Written before publish returned: no task, no wait.
        assert [(m["type"], m["version"]) for m in direct.messages] == [
            ("snapshot", 1),
            ("update", 2),
        ]
        # A full transport: the next updates wait for ``send``, in order, merged.
        direct.full = True
        for status in ("requires_action", "processing"):
            payment = await change(store, payment, status)
            await hub.publish([Notification(payment.id, payment.version)])
        await _drain(client)
    assert direct.waited
    assert direct.waited[-1]["version"] == 4
    versions = [int(str(m["version"])) for m in direct.messages]
    assert versions == sorted(versions)
    assert versions[-1] == 4
    assert hub.stats.messages_sent == len(direct.messages)


async def test_a_quiet_client_is_pinged_by_the_hubs_sweep(store: PgStore) -> None:
    hub = Hub(store, RealtimeStats(), ping_every=0.1)
    direct = Direct()
    sweep = asyncio.create_task(hub.close_stuck_clients())
    try:
        async with hub.connected(direct.send, direct.close, direct.write_now):
            await asyncio.sleep(0.45)
    finally:
        sweep.cancel()
    pings = [m for m in direct.messages if m["type"] == "ping"]
    assert 2 <= len(pings) <= 5


async def test_a_fan_out_is_one_latency_sample_and_a_waiting_client_its_own(
    store: PgStore,
) -> None:
    """The push-latency window (/metrics) gets one sample per fan-out, however many
    sockets keep up, plus one per client whose update had to wait for its buffer."""
    hub = Hub(store, RealtimeStats())
    payment = await add_payment(store)
    keeping_up = [Direct() for _ in range(50)]
    behind = Direct()
    behind.full = True
    clients = [hub.join(t.send, t.close, t.write_now) for t in [*keeping_up, behind]]
    try:
        for client in clients:
            await hub.subscribe(client, payment.id, 0)
        await _drain(clients[-1])  # the full one's snapshot goes out by ``send``
        committed = 1_000.0  # any wall-clock time in the past
        payment = await change(store, payment, "processing")
        await hub.publish([Notification(payment.id, payment.version, committed)])
        assert len(hub.stats.push_latency) == 1
        await _drain(clients[-1])
        assert behind.waited[-1]["version"] == payment.version
        assert len(hub.stats.push_latency) == 2
        assert all(t.messages[-1]["version"] == payment.version for t in keeping_up)
    finally:
        for client in clients:
            await hub.leave(client)
