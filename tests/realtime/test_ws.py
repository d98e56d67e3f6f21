"""The live-status WebSocket: snapshots, updates, replay, several processes, faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.config import Settings
from service.keys import AUTH, HUB, LISTENER, STORE
from tests.support.api import Client
from tests.support.payments import add_payment, change
from tests.support.raw_ws import RawWebSocket
from tests.support.settings import TEST_API_KEY, make_settings

FAST = {"catch_up_seconds": 0.5, "listener_probe_seconds": 0.2}


@pytest.fixture
def fast_settings(database_url: str) -> Settings:
    return make_settings(database_url, **FAST)


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, fast_settings: Settings) -> Client:
    return await aiohttp_client(create_app(fast_settings))


async def receive(ws: ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    """The next protocol message, skipping server pings."""
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        body: dict[str, Any] = json.loads(msg.data)
        if body["type"] != "ping":
            return body


async def until_version(ws: ClientWebSocketResponse, version: int) -> list[dict[str, Any]]:
    """Messages until one carries ``version``; asserts versions only grow."""
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["version"] < version:
        message = await receive(ws)
        if seen:
            assert message["version"] > seen[-1]["version"]
        seen.append(message)
    return seen


def token_for(client: Client, payment_id: Any) -> str:
    return client.app[AUTH].issue_status_token(payment_id)


async def test_subscribe_then_a_change(live: Client) -> None:
    store = live.app[STORE]
    payment = await add_payment(store)
    async with live.ws_connect("/ws") as ws:
        await ws.send_json(
            {
                "type": "subscribe",
                "payment_id": str(payment.id),
                "token": token_for(live, payment.id),
                "since_version": 0,
            }
        )
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["version"] == 1
        assert snapshot["payment"]["status"] == "requires_payment_method"
        assert [e["version"] for e in snapshot["timeline"]] == [1]

        await change(store, payment, "processing")
        update = await receive(ws)
        assert update["type"] == "update"
        assert update["version"] == 2
        assert update["payment"]["status"] == "processing"
        assert [(e["version"], e["status"]) for e in update["timeline"]] == [(2, "processing")]

        await ws.send_json({"type": "ping"})
        assert await receive(ws) == {"type": "pong"}


async def test_since_version_replays_exactly_the_missed_entries(live: Client) -> None:
    store = live.app[STORE]
    payment = await add_payment(store)
    for status in ("requires_action", "requires_payment_method", "processing"):
        payment = await change(store, payment, status)
    assert payment.version == 4
    async with live.ws_connect("/ws", headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as ws:
        await ws.send_json({"type": "subscribe", "payment_id": str(payment.id), "since_version": 2})
        snapshot = await receive(ws)
        assert snapshot["version"] == 4
        assert [e["version"] for e in snapshot["timeline"]] == [3, 4]
        assert [e["status"] for e in snapshot["timeline"]] == [
            "requires_payment_method",
            "processing",
        ]


async def test_change_on_one_instance_reaches_subscribers_on_another(
    aiohttp_client: AiohttpClient, fast_settings: Settings
) -> None:
    a = await aiohttp_client(create_app(fast_settings))
    b = await aiohttp_client(create_app(fast_settings))
    payment = await add_payment(a.app[STORE])
    async with b.ws_connect("/ws") as ws:
        await ws.send_json(
            {"type": "subscribe", "payment_id": str(payment.id), "token": token_for(b, payment.id)}
        )
        assert (await receive(ws))["type"] == "snapshot"
        await change(a.app[STORE], payment, "succeeded")
        update = await receive(ws)
        assert (update["version"], update["payment"]["status"]) == (2, "succeeded")


async def test_listener_killed_loses_no_update(live: Client, database_url: str) -> None:
    store = live.app[STORE]
    payment = await add_payment(store)
    listener = live.app[LISTENER]
    async with live.ws_connect("/ws") as ws:
        await ws.send_json(
            {
                "type": "subscribe",
                "payment_id": str(payment.id),
                "token": token_for(live, payment.id),
            }
        )
        await receive(ws)
        admin = await asyncpg.connect(database_url)
        try:
            for round_ in range(3):
                # The updates of a round can arrive by catch-up before the listener is back
                # (a loaded machine): each round kills a live LISTEN connection.
                for _ in range(200):
                    if listener._conn is not None and not listener._conn.is_closed():
                        break
                    await asyncio.sleep(0.05)
                assert listener._conn is not None
                pid = listener._conn.get_server_pid()
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                for status in ("requires_action", "processing"):
                    payment = await change(store, payment, status, kind=f"round{round_}")
                received = await until_version(ws, payment.version)
                entries = [e["version"] for m in received for e in m["timeline"]]
                assert entries == sorted(set(entries))
                assert received[-1]["payment"]["status"] == "processing"
                assert entries[-1] == payment.version
        finally:
            await admin.close()
    assert live.app[HUB].stats.listener_reconnects >= 1


async def test_slow_client_closed_while_others_get_theirs(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    settings = make_settings(database_url, ws_slow_after_seconds=0.5, **FAST)
    live = await aiohttp_client(create_app(settings))
    store = live.app[STORE]
    # Fat states (Stripe's metadata limits) so a client that stops reading fills its socket.
    payment = await add_payment(store, {f"k{i}": "x" * 500 for i in range(48)})
    token = token_for(live, payment.id)
    assert live.server.port is not None
    slow = await RawWebSocket.connect("127.0.0.1", live.server.port)
    await slow.send_json({"type": "subscribe", "payment_id": str(payment.id), "token": token})
    async with live.ws_connect("/ws") as ws:
        await ws.send_json({"type": "subscribe", "payment_id": str(payment.id), "token": token})
        await receive(ws)
        # ~25 KB a state: 260 of them outgrow the kernel's 4 MiB send buffer. The good
        # client reads all along; the slow one never does until the end.
        target = payment.version + 260
        reader = asyncio.create_task(until_version(ws, target))
        for i in range(260):
            payment = await change(store, payment, "processing", kind=f"step{i}")
        received = await asyncio.wait_for(reader, 30)
        assert received[-1]["version"] == target
        assert received[-1]["payment"]["metadata"]["k0"] == "x" * 500
    # The server notices within slow_after (0.5 s) that its send cannot finish.
    for _ in range(100):
        if live.app[HUB].stats.slow_closes:
            break
        await asyncio.sleep(0.1)
    assert live.app[HUB].stats.slow_closes == 1
    frames = await slow.read_all_frames(timeout=10)
    slow.close()
    assert frames[-1][0] == 0x8  # close frame
    assert int.from_bytes(frames[-1][1][:2], "big") == 4008


@pytest.mark.parametrize(
    ("message", "code", "error"),
    [
        ("not json", 4400, "bad_message"),
        (json.dumps({"type": "subscribe", "payment_id": "nope"}), 4400, "bad_message"),
        (json.dumps({"type": "shout"}), 4400, "bad_message"),
    ],
)
async def test_bad_messages_close_4400(live: Client, message: str, code: int, error: str) -> None:
    async with live.ws_connect("/ws") as ws:
        await ws.send_str(message)
        body = await receive(ws)
        assert (body["type"], body["code"]) == ("error", error)
        closing = await ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE
        assert closing.data == code


async def test_tokens_checked_per_subscription(live: Client) -> None:
    store = live.app[STORE]
    mine, other = await add_payment(store), await add_payment(store)
    cases = [
        ({"token": "garbage"}, "token_invalid"),
        ({}, "token_required"),
        ({"token": token_for(live, other.id)}, "token_wrong_payment"),
    ]
    for extra, error in cases:
        async with live.ws_connect("/ws") as ws:
            await ws.send_json({"type": "subscribe", "payment_id": str(mine.id), **extra})
            body = await receive(ws)
            assert (body["type"], body["code"]) == ("error", error)
            closing = await ws.receive(timeout=5)
            assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4001)


async def test_oversized_frame_closes_1009(live: Client) -> None:
    async with live.ws_connect("/ws") as ws:
        await ws.send_str("x" * 10_000)
        closing = await ws.receive(timeout=5)
        assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1009)


async def test_origin_and_subscription_limits(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    settings = make_settings(
        database_url, cors_origins=["https://shop.example"], ws_max_subscriptions=2
    )
    live = await aiohttp_client(create_app(settings))
    refused = await live.get(
        "/ws",
        headers={
            "Origin": "https://evil.example",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert refused.status == 403
    store = live.app[STORE]
    payments = [await add_payment(store) for _ in range(3)]
    async with live.ws_connect("/ws", origin="https://shop.example") as ws:
        for p in payments:
            await ws.send_json(
                {"type": "subscribe", "payment_id": str(p.id), "token": token_for(live, p.id)}
            )
        kinds = [(await receive(ws))["type"] for _ in range(3)]
        assert kinds.count("snapshot") == 2
        assert kinds.count("error") == 1


async def test_unknown_payment_with_api_key(live: Client) -> None:
    async with live.ws_connect("/ws", headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as ws:
        await ws.send_json(
            {"type": "subscribe", "payment_id": "00000000-0000-0000-0000-000000000000"}
        )
        body = await receive(ws)
        assert (body["type"], body["code"]) == ("error", "payment_not_found")


async def test_shutdown_closes_sockets_with_reconnect_code(live: Client) -> None:
    payment = await add_payment(live.app[STORE])
    ws = await live.ws_connect("/ws")
    await ws.send_json(
        {"type": "subscribe", "payment_id": str(payment.id), "token": token_for(live, payment.id)}
    )
    await receive(ws)
    await live.server.close()
    closing = await ws.receive(timeout=5)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1012)
    await ws.close()
