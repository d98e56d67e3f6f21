"""A lean WebSocket client for the many-socket benchmark: frames parsed in
``data_received``, no task per socket and none woken per message.

With aiohttp's client, the benchmark's client processes spent ~26 µs of CPU per update
received (a reader task woken per message); the service spends ~13 µs per socket
sending it, on the same 2 cores. That made the fan-out's figure mostly the clients'
cost. The receive time is taken as the frame completes in ``data_received``: the moment
aiohttp's client would hand it to its reader, a task switch earlier.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

Record = Callable[[tuple[int, float, bytes]], None]


def masked_text(payload: bytes) -> bytes:
    """A client's text frame (clients must mask, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x81, 0x80 | size]) if size < 126 else struct.pack("!BBH", 0x81, 0xFE, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class LeanSocket(asyncio.Protocol):
    def __init__(self, index: int, request: bytes, record: Record) -> None:
        self.index = index
        self.request = request
        self.record = record
        self.buffer = bytearray()
        self.upgraded = False
        self.first: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.first.done():
            self.first.set_exception(exc or ConnectionError("closed before the snapshot"))

    def send_text(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(masked_text(payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 1000))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.first.set_exception(RuntimeError(bytes(buffer[:200]).decode()))
                self.close()
                return
            del buffer[: end + 4]
            self.upgraded = True
        while len(buffer) >= 2:
            opcode, size, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = struct.unpack_from("!H", buffer, 2)[0], 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = struct.unpack_from("!Q", buffer, 2)[0], 10
            if len(buffer) < start + size:
                return
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            if opcode == 0x1:
                if self.first.done():
                    self.record((self.index, time.monotonic(), payload))
                else:
                    self.first.set_result(payload)
            elif opcode == 0x8:
                self.close()
            elif opcode == 0x9 and self.transport is not None:  # ping: pong, masked
                mask = os.urandom(4)
                body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + body)


def upgrade_request(url: str, api_key: str | None) -> bytes:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
    # The headers aiohttp's client sends: the service keeps a socket's request, so fewer
    # would flatter its memory per socket.
    return (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
        f"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
        f"User-Agent: Python/3.11 aiohttp/{aiohttp.__version__}\r\n{auth}\r\n"
    ).encode()


async def connect(url: str, index: int, record: Record, api_key: str | None) -> LeanSocket:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: LeanSocket(index, upgrade_request(url, api_key), record),
        parts.hostname or "127.0.0.1",
        parts.port or 80,
    )
    return protocol
