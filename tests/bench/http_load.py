"""A lean HTTP/1.1 load client: pre-built requests over keep-alive connections.

On two cores the load generator shares the CPU with the service and PostgreSQL, and
aiohttp's client spends several hundred microseconds per request of its own: that would
be counted against the service. Like wrk, this writes request bytes built (and signed)
before timing starts and reads just enough of each answer to know its status and body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from urllib.parse import urlsplit


def build_post(url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    parts = urlsplit(url)
    head = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(head).encode() + body


class HttpConnection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> HttpConnection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write one pre-built request; (status, body) of its answer."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


# The service closes a keep-alive connection idle for HEADER_TIMEOUT_SECONDS (10 s by
# default); one idle for this long is replaced rather than written to as it closes.
STALE_AFTER = 5.0


class HttpConnections:
    """Idle connections to reuse, opened on demand: for requests fired at a paced rate.
    The most recently used is taken first, so a long paced run leaves the others idle:
    those idle past `stale_after` are closed and replaced instead."""

    def __init__(self, url: str, stale_after: float = STALE_AFTER) -> None:
        self.url = url
        self.stale_after = stale_after
        self._idle: list[tuple[HttpConnection, float]] = []
        self._all: list[HttpConnection] = []

    async def send(self, request: bytes) -> tuple[int, bytes]:
        conn = await self._take()
        result = await conn.send(request)
        self._idle.append((conn, time.monotonic()))
        return result

    async def _take(self) -> HttpConnection:
        if self._idle:
            stale_before = time.monotonic() - self.stale_after
            if self._idle[0][1] < stale_before:  # the oldest first, all at once
                stale = [c for c, used in self._idle if used < stale_before]
                self._idle = [(c, used) for c, used in self._idle if used >= stale_before]
                for conn in stale:
                    self._all.remove(conn)
                    await conn.close()
        if self._idle:
            return self._idle.pop()[0]
        return await self._open()

    async def warm(self, count: int) -> None:
        """Open `count` connections before timing starts."""
        for _ in range(count - len(self._all)):
            self._idle.append((await self._open(), time.monotonic()))

    async def _open(self) -> HttpConnection:
        conn = await HttpConnection.open(self.url)
        self._all.append(conn)
        return conn

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
