"""WebSocket clients in their own process: ``python -m tests.bench.ws_clients URL SUBS``.

SUBS is a JSON file: a list of ``[payment_id, status_token]``, one socket each. The
process opens every socket, subscribes, waits for every snapshot, then prints one JSON
line ``{"ready": n, "failed": k}`` on stdout. After that it only records, per update,
``[sub_index, version, monotonic receive time]`` (CLOCK_MONOTONIC is system-wide, so
the parent can compare it with its own send times); the raw text is parsed after the
fact so a receive costs as little as possible here. Commands on stdin, one per line:
``report`` prints ``{"received": [...], "closed": n}`` and clears the record; ``exit``
(or end of input) closes everything. ``--lean``: the sockets are ``ws_lean``'s rather
than aiohttp's (the many-socket benchmark, where the clients' own cost showed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import aiohttp

from service.gc_tuning import tune_for_serving
from tests.bench import ws_lean
from tests.bench.common import json_line, raise_fd_limit


class Clients:
    def __init__(
        self,
        url: str,
        subs: list[list[str]],
        connect_concurrency: int,
        api_key: str | None = None,
    ) -> None:
        self.url = url
        self.subs = subs
        self.api_key = api_key
        self.gate = asyncio.Semaphore(connect_concurrency)
        self.raw: list[tuple[int, float, str | bytes]] = []
        self.closed = 0
        self.failed = 0
        self.early_updates = 0  # subscriptions whose first message was an update
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.lean: list[ws_lean.LeanSocket] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open_lean(self, index: int, ready: asyncio.Event) -> None:
        payment_id, token = self.subs[index]
        try:
            async with self.gate:
                sock = await ws_lean.connect(self.url, index, self.raw.append, self.api_key)
                subscribe = {"type": "subscribe", "payment_id": payment_id, "token": token}
                sock.send_text(json.dumps(subscribe).encode())
                first = await asyncio.wait_for(asyncio.shield(sock.first), 60)
                if b'"snapshot"' not in first and b'"update"' not in first:
                    raise RuntimeError(f"no snapshot: {first[:200]!r}")
                if b'"update"' in first:
                    self.early_updates += 1
        except Exception as exc:
            self.failed += 1
            print(f"ws client {index}: {exc!r}", file=sys.stderr)
            ready.set()
            return
        self.lean.append(sock)
        ready.set()
        await sock.lost
        self.closed += 1

    async def open_one(
        self, session: aiohttp.ClientSession, index: int, ready: asyncio.Event
    ) -> None:
        payment_id, token = self.subs[index]
        try:
            async with self.gate:
                ws = await session.ws_connect(self.url, autoping=True, compress=0)
                await ws.send_str(
                    json.dumps({"type": "subscribe", "payment_id": payment_id, "token": token})
                )
                # Subscribed once the payment's state arrives: the snapshot, or an update
                # the hub's catch-up offered while the snapshot was being read (seen at
                # 10,000 subscriptions; legal, as both carry the full state).
                first = await ws.receive(timeout=60)
                if first.type != aiohttp.WSMsgType.TEXT or not (
                    '"snapshot"' in first.data or '"update"' in first.data
                ):
                    raise RuntimeError(f"no snapshot: {first.type} {str(first.data)[:200]}")
                if '"update"' in first.data:
                    self.early_updates += 1
        except Exception as exc:
            self.failed += 1
            print(f"ws client {index}: {exc!r}", file=sys.stderr)
            ready.set()
            return
        self.sockets.append(ws)
        ready.set()
        record = self.raw.append
        clock = time.monotonic
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                record((index, clock(), msg.data))
        self.closed += 1

    @property
    def ready(self) -> int:
        return len(self.sockets) + len(self.lean)

    def report(self) -> dict[str, Any]:
        received = []
        for index, at, text in self.raw:
            data = json.loads(text)
            if data.get("type") == "update":
                received.append([index, int(data["version"]), at])
        self.raw.clear()
        return {"received": received, "closed": self.closed}


async def main_async(args: argparse.Namespace, subs: list[list[str]]) -> None:
    clients = Clients(args.url, subs, args.connect_concurrency, args.api_key)
    open_one = clients.open_lean if args.lean else None
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else None
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        readies = [asyncio.Event() for _ in subs]
        clients.tasks = [
            asyncio.create_task(
                open_one(i, readies[i]) if open_one else clients.open_one(session, i, readies[i])
            )
            for i in range(len(subs))
        ]
        for event in readies:
            await event.wait()
        # A browser holds one socket; this process stands in for thousands, so its own
        # GC passes over them must not show up as push latency: tuned like the service.
        tune_for_serving()
        out = sys.stdout.buffer
        ready = {
            "ready": clients.ready,
            "failed": clients.failed,
            "early_updates": clients.early_updates,
        }
        out.write(json_line(ready))
        out.flush()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).strip():
            if line == b"report":
                out.write(json_line(clients.report()))
                out.flush()
            elif line == b"exit":
                break
        for ws in clients.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for sock in clients.lean:
            sock.close()
        for task in clients.tasks:
            task.cancel()
        await asyncio.gather(*clients.tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("subs")
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--lean", action="store_true")
    args = parser.parse_args()
    raise_fd_limit()
    with open(args.subs) as handle:
        subs: list[list[str]] = json.load(handle)
    asyncio.run(main_async(args, subs))


if __name__ == "__main__":
    main()
