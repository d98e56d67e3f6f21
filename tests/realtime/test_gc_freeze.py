"""Frozen sockets leave nothing behind.

Serving, a socket's objects are frozen shortly after it subscribes (service/gc_tuning.py):
the collector never looks at them again, so a reference cycle left when one closes would
never be freed. Here sockets are opened, subscribed, frozen and closed in each way a
socket ends; afterwards the frozen generation must be back where it was. A closed socket
whose objects stayed in a cycle would leave dozens of frozen objects each.

The app runs on uvloop, as served: the service freezes clients only there, since
asyncio's own selector transports keep a reference cycle each (``_read_ready_cb``).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import uvloop
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from service.gc_tuning import FREEZE_DELAY, stop_freezing, tune_for_serving
from service.keys import AUTH, HUB, STORE
from service.realtime.subscriber import Subscriber
from tests.support.payments import add_payment
from tests.support.raw_ws import RawWebSocket
from tests.support.served_app import served_app
from tests.support.settings import make_settings

SOCKETS = 40
# Frozen objects allowed to remain per socket: none of a socket's own is expected; one
# kept by a cycle leaves 30 or more (its response, request, protocol, transport, queues).
SLACK_PER_SOCKET = 20


@pytest.fixture
def serving_gc() -> Iterator[None]:
    """The GC as ``python -m service serve`` sets it, for one test."""
    thresholds = gc.get_threshold()
    tune_for_serving()
    try:
        yield
    finally:
        stop_freezing()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.collect()


def _subscribe_message(app: web.Application, payment_id: Any) -> dict[str, Any]:
    token = app[AUTH].issue_status_token(payment_id)
    return {"type": "subscribe", "payment_id": str(payment_id), "token": token}


async def _until_clients(app: web.Application, subscribed: int) -> None:
    for _ in range(250):
        if sum(1 for c in app[HUB].clients if c.versions) == subscribed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(app[HUB].clients)} client(s), {subscribed} expected")


def _connections_still_alive() -> int:
    """Connection objects still in memory, frozen ones included: unfrozen to be listed,
    not collected first, so one kept by a frozen cycle is counted."""
    gc.unfreeze()
    try:
        kinds = (RequestHandler, web.StreamResponse, Subscriber)
        return sum(1 for o in gc.get_objects() if isinstance(o, kinds))
    finally:
        gc.freeze()


async def _settled_freeze_count() -> int:
    """Frozen objects once a pending freeze has run and garbage is collected."""
    await asyncio.sleep(FREEZE_DELAY * 2)
    gc.collect()
    return gc.get_freeze_count()


CLOSE_1000 = bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 1000)  # masked, 0 key


async def _open_and_close(
    app: web.Application, port: int, message: dict[str, Any], how: str
) -> int:
    """Plain sockets on the client side (no objects, no cycles of their own here);
    returns the frozen objects' count while they were open."""
    if how == "event_stream_vanishes":
        return await _event_streams(app, port, message)
    sockets = []
    for _ in range(SOCKETS):
        raw = await RawWebSocket.connect("127.0.0.1", port)
        await raw.send_json(message)
        sockets.append(raw)
    await _until_clients(app, SOCKETS)
    await asyncio.sleep(FREEZE_DELAY * 2)  # frozen by now, while open
    frozen_while_open = gc.get_freeze_count()
    loop = asyncio.get_running_loop()
    for raw in sockets:
        if how == "client_closes":  # the closing handshake, both ways
            await loop.sock_sendall(raw.sock, CLOSE_1000)
            frames = await raw.read_all_frames(timeout=5)
            assert frames[-1][0] == 0x8
        elif how == "server_closes":  # a message that is not the protocol: 4400
            await loop.sock_sendall(raw.sock, masked(b"not json"))
            frames = await raw.read_all_frames(timeout=5)
            assert int.from_bytes(frames[-1][1][:2], "big") == 4400
        elif how == "close_frame_then_reset":
            # A close frame, then a reset at once: the server's close reply fails, and
            # aiohttp keeps that exception (traceback and all) on the response.
            raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.sock.send(CLOSE_1000)
        raw.close()  # "vanishes": without a close frame
    return frozen_while_open


async def _event_streams(app: web.Application, port: int, message: dict[str, Any]) -> int:
    """The same for Server-Sent Events streams (subscribed, so frozen, too), each closed
    by its client going away."""
    loop = asyncio.get_running_loop()
    path = f"/api/payments/{message['payment_id']}/stream?token={message['token']}"
    sockets = []
    for _ in range(SOCKETS):
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = b""
        while b"event: snapshot" not in head:
            head += await loop.sock_recv(sock, 65536)
        assert head.startswith(b"HTTP/1.1 200")
        sockets.append(sock)
    await _until_clients(app, SOCKETS)
    await asyncio.sleep(FREEZE_DELAY * 2)
    frozen_while_open = gc.get_freeze_count()
    for sock in sockets:
        sock.close()
    return frozen_while_open


def masked(payload: bytes) -> bytes:
    """A client text frame, masked with a zero key (payload unchanged)."""
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


@pytest.mark.parametrize(
    "how",
    [
        "client_closes",
        "server_closes",
        "close_frame_then_reset",
        "vanishes",
        "event_stream_vanishes",
    ],
)
def test_closed_sockets_leave_nothing_frozen(serving_gc: None, database_url: str, how: str) -> None:
    settings = make_settings(
        database_url,
        ws_max_connections_per_token=1000,
        ws_max_connections_per_address=1000,
        ws_ping_seconds=0.2,  # an event stream learns its client left when it next writes
    )

    async def scenario() -> tuple[int, int, int, int]:
        async with served_app(settings) as (app, port):
            payment = await add_payment(app[STORE])
            message = _subscribe_message(app, payment.id)
            # One round first, so what the first round builds for good (the pool's
            # connections and their statement caches, lazy imports) is in the baseline.
            await _open_and_close(app, port, message, how)
            await _until_clients(app, 0)
            # Whatever earlier tests in this process left alive is not this test's
            # (counted here; this also freezes it, before the frozen count is taken).
            alive_before = _connections_still_alive()
            before = await _settled_freeze_count()
            frozen_while_open = await _open_and_close(app, port, message, how)
            await _until_clients(app, 0)
            after = await _settled_freeze_count()
            return before, frozen_while_open, after, _connections_still_alive() - alive_before

    loop = uvloop.new_event_loop()
    try:
        before, frozen_while_open, after, alive = loop.run_until_complete(scenario())
    finally:
        loop.close()
    # The sockets were frozen (or this test proves nothing)...
    assert frozen_while_open - before > SOCKETS * 30
    # ...and none of them outlived its connection, frozen in a cycle...
    assert alive <= 0
    # ...nor anything else of them (what remains is the pool's and the loop's odds and
    # ends, a few hundred objects whatever the number of sockets).
    assert after - before < SOCKETS * SLACK_PER_SOCKET, (before, frozen_while_open, after)
