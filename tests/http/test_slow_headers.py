"""Slow-header (slowloris) clients are cut: a request head must arrive whole within
``HEADER_TIMEOUT_SECONDS`` of the connection's start or of the previous answer, however
steadily its bytes trickle in; requests being answered (a stream) are not cut."""

from __future__ import annotations

import asyncio
import contextlib
import time

from service.keys import AUTH, STORE
from service.serving import handler_args
from tests.support.payments import add_payment
from tests.support.served_app import served_app
from tests.support.settings import make_settings

TIMEOUT = 1.0


async def _trickle(port: int, prefix: bytes, seconds: float) -> float | None:
    """Send `prefix`, then a header byte every 0.2 s; when the server closed (seconds
    after the first byte), or None if it was still open after `seconds`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(prefix + b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while time.monotonic() - started < seconds:
            try:
                writer.write(b"a")
                await writer.drain()
                if await asyncio.wait_for(reader.read(65536), 0.2) == b"" or reader.at_eof():
                    return time.monotonic() - started
            except TimeoutError:
                continue
            except ConnectionError:
                return time.monotonic() - started
        return None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_slow_headers_are_cut(database_url: str) -> None:
    settings = make_settings(database_url, header_timeout_seconds=TIMEOUT)
    async with served_app(settings) as (_, port):
        closed = await asyncio.gather(*(_trickle(port, b"", 6 * TIMEOUT) for _ in range(20)))
    assert all(c is not None and c < 3 * TIMEOUT for c in closed), closed


async def test_slow_headers_of_a_second_request_are_cut(database_url: str) -> None:
    settings = make_settings(database_url, header_timeout_seconds=TIMEOUT)
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    async with served_app(settings) as (_, port):
        closed = await _trickle(port, first, 6 * TIMEOUT)
    assert closed is not None
    assert closed < 3 * TIMEOUT


async def test_a_prompt_client_and_a_long_stream_are_not_cut(database_url: str) -> None:
    settings = make_settings(database_url, header_timeout_seconds=TIMEOUT, ws_ping_seconds=0.3)
    async with served_app(settings) as (app, port):
        payment = await add_payment(app[STORE])
        token = app[AUTH].issue_status_token(payment.id)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # A head sent in pieces, but whole within the timeout, is answered.
        for piece in (f"GET /api/payments/{payment.id}/stream?token={token} HTTP/1.1\r\n", "Ho"):
            writer.write(piece.encode())
            await asyncio.sleep(TIMEOUT / 4)
        writer.write(b"st: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        # The stream outlives the header timeout several times over, pings arriving.
        deadline = time.monotonic() + 3 * TIMEOUT
        while time.monotonic() < deadline:
            assert await asyncio.wait_for(reader.read(4096), 2) != b""
        writer.close()


def test_the_default_is_sane() -> None:
    settings = make_settings("postgresql://unused/x")
    assert 1 <= settings.header_timeout_seconds <= 60
    assert handler_args(settings) == {"keepalive_timeout": settings.header_timeout_seconds}
