"""A lean HTTP/1.1 load client: pre-built requests over keep-alive connections.

On two cores the load generator shares the CPU with the service and PostgreSQL, and
aiohttp's client spends several hundred microseconds per request of its own: that would
be counted against the service. Like wrk, this writes request bytes built (and signed)
before timing starts and reads just enough of each answer to know its status and body.
"""

from __future__ import annotations

import asyncio
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


class HttpConnections:
    """Idle connections to reuse, opened on demand: for requests fired at a paced rate."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: list[HttpConnection] = []
        self._all: list[HttpConnection] = []

    async def send(self, request: bytes) -> tuple[int, bytes]:
        conn = self._idle.pop() if self._idle else await self._open()
        result = await conn.send(request)
        self._idle.append(conn)
        return result

    async def warm(self, count: int) -> None:
        """Open `count` connections before timing starts."""
        for _ in range(count - len(self._all)):
            self._idle.append(await self._open())

    async def _open(self) -> HttpConnection:
        conn = await HttpConnection.open(self.url)
        self._all.append(conn)
        return conn

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
