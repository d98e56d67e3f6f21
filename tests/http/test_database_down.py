"""What counts as the database being down (503 ``database_unavailable``) and what does not:
a client that leaves mid-handshake is no outage (``http/errors.py``, ``db/pool.py``).
The database really stopped under traffic is ``tests/test_faults.py``."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import struct

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service import errors
from service.app import create_app
from service.config import Settings
from service.db.pool import create_pool
from service.http.errors import CLIENT_CLOSED_REQUEST
from tests.support.api import API
from tests.support.processes import free_port

UPGRADE = (
    "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def _upgrade_then_reset(host: str, port: int) -> None:
    """A real socket asks for a WebSocket and is gone before the answer: closed with a
    reset (SO_LINGER 0), as a browser tab killed mid-handshake is."""
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, UPGRADE.format(host=f"{host}:{port}", key=key).encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_a_client_leaving_mid_handshake_is_not_a_database_outage(
    client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    host, port = client.server.host, client.server.port
    assert port is not None
    with caplog.at_level(logging.DEBUG):
        for _ in range(40):
            await _upgrade_then_reset(host, port)
        await asyncio.sleep(0.3)
        healthy = await client.get("/healthz")
    assert healthy.status == 200

    assert not [r for r in caplog.records if "database unavailable" in r.getMessage()]
    gone = [r for r in caplog.records if r.getMessage().startswith("client went away")]
    # The race is real: some handlers met the closed socket (else this proves nothing).
    assert gone, "no client left mid-handshake; the test did not reach the case"
    assert all(r.levelno == logging.INFO for r in gone)
    service_warnings = [
        r for r in caplog.records if r.name.startswith("service") and r.levelno >= logging.WARNING
    ]
    assert service_warnings == []
    statuses = [
        r.getMessage().split('" ')[1].split()[0]
        for r in caplog.records
        if r.name == "aiohttp.access" and '"GET /ws ' in r.getMessage()
    ]
    assert statuses.count(str(CLIENT_CLOSED_REQUEST)) == len(gone)
    assert set(statuses) <= {"101", str(CLIENT_CLOSED_REQUEST)}


async def test_a_database_that_refuses_connections_is_unavailable() -> None:
    dsn = f"postgresql://paylive@127.0.0.1:{free_port()}/paylive"
    with pytest.raises(errors.DatabaseUnavailable) as caught:
        await create_pool(dsn, min_size=1, max_size=1)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


async def test_no_database_is_503_database_unavailable(
    aiohttp_client: AiohttpClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A pool that starts empty, then finds nothing listening when a request needs it.
    dsn = f"postgresql://paylive@127.0.0.1:{free_port()}/paylive"
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"database_url": dsn, "db_pool_min_size": 0}))
    )
    with caplog.at_level(logging.WARNING):
        answer = await client.get("/api/payments?order_id=o-1", headers=API)
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "1"
    body = await answer.json()
    assert body["error"]["code"] == "database_unavailable"
    assert [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]


async def test_only_the_database_s_own_errors_are_its_outage(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    raised: list[BaseException] = [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        TimeoutError(),  # what asyncpg raises for a query or acquire past its timeout
        ConnectionResetError("reset by peer"),  # not the database's, the client is here
        OSError("no space left on device"),
    ]

    async def handler(request: web.Request) -> web.Response:
        raise raised[int(request.match_info["n"])]

    app = create_app(settings)
    app.router.add_get("/raise/{n}", handler)
    client = await aiohttp_client(app)
    answers = []
    for n in range(len(raised)):
        response = await client.get(f"/raise/{n}")
        answers.append((response.status, (await response.json())["error"]["code"]))
    assert answers == [
        (503, "database_unavailable"),
        (503, "database_unavailable"),
        (500, "internal_error"),
        (500, "internal_error"),
    ]
