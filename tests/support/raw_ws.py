"""A WebSocket client that reads only when told to: the slow client, made real.

A plain non-blocking socket with a tiny receive buffer and no reader task, so nothing
drains the connection until ``read_all_frames`` is called.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct


class RawWebSocket:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    @classmethod
    async def connect(cls, host: str, port: int, path: str = "/ws") -> RawWebSocket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(
            sock,
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode(),
        )
        raw = cls(sock)
        while b"\r\n\r\n" not in raw._buffer:
            raw._buffer += await loop.sock_recv(sock, 4096)
        head, _, raw._buffer = raw._buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return raw

    async def send_json(self, body: object) -> None:
        payload = json.dumps(body).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await asyncio.get_running_loop().sock_sendall(self.sock, header + mask + masked)

    async def _exactly(self, n: int) -> bytes:
        loop = asyncio.get_running_loop()
        while len(self._buffer) < n:
            chunk = await loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    async def read_all_frames(self, timeout: float) -> list[tuple[int, bytes]]:
        """Read until the server's close frame or EOF; (opcode, payload) of every frame."""
        frames: list[tuple[int, bytes]] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    head = await self._exactly(2)
                except EOFError:
                    return frames
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", await self._exactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", await self._exactly(8))
                frames.append((opcode, await self._exactly(length)))
                if opcode == 0x8:
                    return frames

    def close(self) -> None:
        self.sock.close()
