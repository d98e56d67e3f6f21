"""``python -m tests.bench.fanout_python``: the service's own Python in one fan-out.

The sockets benchmark times one update to 10,000 sockets end to end: the hub's loop, the
kernel's ``send`` for each socket, and the client processes reading, all on the same
cores. This runs the hub's per-socket path alone (``Subscriber.offer`` into the
WebSocket link, ``_Socket.write_now``) for 10,000 subscribers whose transports take the
frame without a system call, and prints the median and minimum of 40 fan-outs.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from typing import Any, cast

from aiohttp import web

from service.realtime.stats import RealtimeStats
from service.realtime.subscriber import Subscriber
from service.realtime.texts import UpdateTexts
from service.realtime.ws import _Socket


class _Transport:
    """Takes every frame at once, as a socket with room in its buffer does."""

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        pass


class _OpenSocket:
    closed = False


def fan_outs(sockets: int, rounds: int) -> list[float]:
    """Milliseconds per fan-out of one update to `sockets` subscribers."""
    stats, texts = RealtimeStats(), UpdateTexts()
    payment_id = uuid.uuid4()
    clients = []
    for _ in range(sockets):
        link = _Socket(cast(web.WebSocketResponse, _OpenSocket()), cast(Any, _Transport()))
        client = Subscriber(link, stats, texts=texts)
        client.start()
        client.versions[payment_id] = 1
        clients.append(client)
    times = []
    for version in range(2, 2 + rounds):
        state = {"version": version, "status": "processing", "payment_id": str(payment_id)}
        timeline = [{"version": version, "kind": "status", "status": "processing"}]
        started = time.perf_counter()
        for client in clients:
            client.offer(payment_id, "update", state, timeline)
        times.append((time.perf_counter() - started) * 1000)
    if stats.messages_sent != sockets * rounds:
        raise RuntimeError(f"{stats.messages_sent} of {sockets * rounds} updates written")
    return times


async def _main(sockets: int, rounds: int) -> None:
    times = fan_outs(sockets, rounds)
    print(
        f"one update to {sockets} sockets, writes stubbed out: "
        f"median {statistics.median(times):.2f} ms, min {min(times):.2f} ms ({rounds} fan-outs)"
    )


if __name__ == "__main__":
    import uvloop

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    uvloop.run(_main(count, 40))
