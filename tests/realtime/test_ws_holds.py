"""What one idle subscribed WebSocket keeps alive (issue 21: memory per socket).

A socket lives for hours and one process holds 10,000 of them, so what its handler keeps
alive while it waits for the client is memory of every socket. These fail if a
middleware coroutine around the handler, the handshake's headers, the request id on the
request, a subscriber's bound methods or its empty pending dict come back, or if a
snapshot's frame (one client's) is cached; and check that what those carried (metrics,
the error answer, the request id) still happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.config import Settings
from service.keys import AUTH, HUB, METRICS, STORE
from service.realtime import ws as ws_module
from service.realtime.frames import FRAMES
from service.realtime.subscriber import Subscriber
from tests.support.access_log import access_lines, access_logged_client
from tests.support.api import Client
from tests.support.payments import add_payment, change
from tests.support.settings import make_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, catch_up_seconds=0.5)


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, settings: Settings) -> Client:
    return await aiohttp_client(create_app(settings))


def _await_chain(task: asyncio.Task[Any]) -> list[Any]:
    """The coroutines a task is suspended in, outermost first."""
    chain = []
    awaiting: Any = task.get_coro()
    while getattr(awaiting, "cr_code", None) is not None:
        chain.append(awaiting)
        awaiting = awaiting.cr_await
    return chain


def _socket_handler_chain() -> list[Any]:
    """The await chain of the one live socket's request task (the server's side)."""
    for task in asyncio.all_tasks():
        chain = _await_chain(task)
        if any(c.cr_code is ws_module.websocket.__code__ for c in chain):
            return chain
    raise AssertionError("no task is running the WebSocket handler")


@pytest.fixture
async def subscribed(live: Client) -> AsyncIterator[tuple[Client, Any, Any]]:
    """(client, its socket, the payment) once the snapshot arrived, and the socket idles."""
    payment = await add_payment(live.app[STORE])
    token = live.app[AUTH].issue_status_token(payment.id)
    async with live.ws_connect("/ws", headers={"X-Request-ID": "held-1"}) as socket:
        await socket.send_json({"type": "subscribe", "payment_id": str(payment.id), "token": token})
        assert (await socket.receive_json(timeout=5))["type"] == "snapshot"
        await asyncio.sleep(0.05)  # the handler back in its wait for the next message
        yield live, socket, payment


async def test_an_idle_socket_keeps_no_middleware_coroutine(
    subscribed: tuple[Client, Any, Any],
) -> None:
    chain = _socket_handler_chain()
    ours = [c.cr_code.co_qualname for c in chain if "/service/" in c.cr_code.co_filename]
    # The edge (request id, error answer, metrics), input guard and idempotency keep no
    # frame of their own: the handler's is the only one of ours.
    assert ours == ["websocket"], [c.cr_code.co_qualname for c in chain]


async def test_an_idle_socket_keeps_no_headers_request_state_or_spare_objects(
    subscribed: tuple[Client, Any, Any],
) -> None:
    live, socket, payment = subscribed
    [handler] = [c for c in _socket_handler_chain() if c.cr_code is ws_module.websocket.__code__]
    local = handler.cr_frame.f_locals
    response, request = local["ws"], local["request"]
    assert isinstance(response, web.WebSocketResponse)
    assert len(response.headers) == 0  # sent with the 101, then dropped
    assert len(request) == 0  # the request id lives in the task's context, not here
    assert type(local["admission"].tokens) is tuple  # its one token's name, no list
    [client] = live.app[HUB].clients
    assert isinstance(client, Subscriber)
    assert type(client.link) is ws_module._Socket  # the socket itself, no bound methods
    assert client._pending is None  # nothing pending: no empty dict kept either
    # ...and it still works: an update arrives, and the socket idles the same way after.
    await change(live.app[STORE], payment, "processing")
    assert (await socket.receive_json(timeout=5))["type"] == "update"
    await asyncio.sleep(0.05)
    assert client._pending is None


async def test_the_socket_route_still_answers_errors_and_is_counted(live: Client) -> None:
    """The WebSocket handler does the edge's work itself (a lasting handler, named in
    service/app.py): a request that is not an upgrade gets the JSON error answer, with its
    request id, and is counted."""
    response = await live.get("/ws", headers={"X-Request-ID": "plain-get-1"})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"
    assert response.headers["X-Request-ID"] == "plain-get-1"
    registry = live.app[METRICS].registry
    labels = {"method": "GET", "route": "/ws", "status": "400"}
    assert registry.get_sample_value("paylive_http_requests_total", labels) == 1


async def test_access_lines_carry_the_request_id(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with access_logged_client(make_settings(database_url)) as api:
        await api.get("/healthz", headers={"X-Request-ID": "acc-1"})
        async with api.ws_connect("/ws", headers={"X-Request-ID": "acc-ws-1"}) as socket:
            assert socket.closed is False
        [healthz] = await access_lines(caplog, "GET /healthz")
        [upgrade] = await access_lines(caplog, "GET /ws")
    assert healthz.__dict__["request_id"] == "acc-1"
    assert upgrade.__dict__["request_id"] == "acc-ws-1"


async def test_only_shared_frames_are_cached(live: Client) -> None:
    """A snapshot is one client's text: its frame is written, not cached (a burst of
    subscriptions would fill the cache with them). An update's is every client's."""
    payment = await add_payment(live.app[STORE])
    token = live.app[AUTH].issue_status_token(payment.id)
    before = len(FRAMES)
    async with live.ws_connect("/ws") as socket:
        await socket.send_json({"type": "subscribe", "payment_id": str(payment.id), "token": token})
        assert (await socket.receive_json(timeout=5))["type"] == "snapshot"
        assert len(FRAMES) == before
        await change(live.app[STORE], payment, "processing")
        assert (await socket.receive_json(timeout=5))["type"] == "update"
        assert len(FRAMES) in (before + 1, 1)  # 1: the cache was full and started again
