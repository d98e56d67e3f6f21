"""One customer cannot starve the others: live connections (WebSocket and SSE) are capped
per credential (an API key; a payment's status tokens) and per client address, well
below the process-wide cap, and a refused one is told why (429, or close code 4429)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import AUTH, CONNECTION_LIMITS, HUB, STORE
from service.realtime.protocol import CLOSE_TOO_MANY
from tests.support.api import Client
from tests.support.payments import add_payment
from tests.support.settings import TEST_API_KEY, make_settings

API = {"Authorization": f"Bearer {TEST_API_KEY}"}


async def _live(aiohttp_client: AiohttpClient, database_url: str, **limits: int) -> Client:
    settings = make_settings(database_url, ws_max_connections=1000, **limits)
    return await aiohttp_client(create_app(settings))


async def _subscribe(ws: ClientWebSocketResponse, payment_id: Any, token: str) -> dict[str, Any]:
    await ws.send_json({"type": "subscribe", "payment_id": str(payment_id), "token": token})
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type != WSMsgType.TEXT:
            return {"closed": msg.type.name, "code": ws.close_code}
        body: dict[str, Any] = json.loads(msg.data)
        if body["type"] != "ping":
            return body


@contextlib.asynccontextmanager
async def _sockets(live: Client, count: int, **kwargs: Any) -> AsyncIterator[list[Any]]:
    opened: list[Any] = []
    try:
        for _ in range(count):
            opened.append(await live.ws_connect("/ws", **kwargs))
        yield opened
    finally:
        for ws in opened:
            await ws.close()


async def test_one_status_token_cannot_take_every_socket(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    live = await _live(aiohttp_client, database_url, ws_max_connections_per_token=3)
    mine = await add_payment(live.app[STORE])
    theirs = await add_payment(live.app[STORE])
    token = live.app[AUTH].issue_status_token(mine.id)
    # Another token for the same payment is the same holder: no more connections.
    second_token = live.app[AUTH].issue_status_token(mine.id)
    async with _sockets(live, 4) as sockets:
        for ws in sockets[:3]:
            assert (await _subscribe(ws, mine.id, token))["type"] == "snapshot"
        refused = await _subscribe(sockets[3], mine.id, second_token)
        assert refused == {
            "type": "error",
            "code": "too_many_connections",
            "message": "Too many live connections for this payment's status token.",
            "payment_id": str(mine.id),
        }
        closing = await sockets[3].receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE
        assert sockets[3].close_code == CLOSE_TOO_MANY
        # Another customer still gets in, and a socket counts once per token.
        async with _sockets(live, 1) as (other,):
            other_token = live.app[AUTH].issue_status_token(theirs.id)
            assert (await _subscribe(other, theirs.id, other_token))["type"] == "snapshot"
        assert (await _subscribe(sockets[0], mine.id, token))["type"] == "snapshot"
    # Closed sockets give their slots back.
    await _until(lambda: not live.app[CONNECTION_LIMITS].by_token.held)
    async with _sockets(live, 1) as (again,):
        assert (await _subscribe(again, mine.id, token))["type"] == "snapshot"


async def test_one_api_key_cannot_take_every_socket(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    live = await _live(aiohttp_client, database_url, ws_max_connections_per_token=2)
    async with _sockets(live, 2, headers=API):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await live.ws_connect("/ws", headers=API)
        assert refused.value.status == 429
        # Without the key (a browser with a status token) the address still has room.
        async with _sockets(live, 1):
            pass


async def test_one_address_cannot_take_every_socket(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    live = await _live(aiohttp_client, database_url, ws_max_connections_per_address=3)
    payment = await add_payment(live.app[STORE])
    token = live.app[AUTH].issue_status_token(payment.id)
    async with _sockets(live, 2):
        stream = await live.get(f"/api/payments/{payment.id}/stream?token={token}")
        assert stream.status == 200
        response = await live.get("/ws")  # the upgrade, refused before it happens
        assert response.status == 429
        body = await response.json()
        assert body["error"]["code"] == "too_many_connections"
        assert body["error"]["details"] == {"per": "address"}
        assert response.headers["Retry-After"]
        sse = await live.get(f"/api/payments/{payment.id}/stream?token={token}")
        assert sse.status == 429
        stream.close()
    await _until(lambda: not live.app[HUB].clients)
    await _until(lambda: not live.app[CONNECTION_LIMITS].by_address.held)


async def test_sse_streams_count_per_payment_token(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    live = await _live(aiohttp_client, database_url, ws_max_connections_per_token=2)
    payment = await add_payment(live.app[STORE])
    url = f"/api/payments/{payment.id}/stream?token="
    streams = [
        await live.get(url + live.app[AUTH].issue_status_token(payment.id)) for _ in range(2)
    ]
    assert [s.status for s in streams] == [200, 200]
    third = await live.get(url + live.app[AUTH].issue_status_token(payment.id))
    assert third.status == 429
    assert (await third.json())["error"]["details"] == {"per": "token"}
    for stream in streams:
        stream.close()


def test_defaults_are_sane() -> None:
    settings = make_settings("postgresql://unused/x")
    assert 1 < settings.ws_max_connections_per_token < settings.ws_max_connections_per_address
    assert settings.ws_max_connections_per_address < settings.ws_max_connections


async def _until(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")
