"""Several service processes sharing one database and one fan-out broker, and the
client side of the live-status tests against them: webhooks in, sockets out."""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.support.api import API
from tests.support.processes import free_port, spawn_service, wait_ready
from tests.support.settings import TEST_API_KEY, TEST_STATUS_SECRET
from tests.support.webhooks import WEBHOOK_SECRET, event_body, intent, make_event, signed_headers

# What each payment goes through, one webhook each: versions 2, 3 and 4.
STEPS = ("requires_action", "processing", "succeeded")


def service_env(database_url: str, broker: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REALTIME_BROKER": broker,
        "STRIPE_SECRET_KEY": "sk_test_paylive_brokers",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "API_KEYS": TEST_API_KEY,
        "STATUS_TOKEN_SECRET": TEST_STATUS_SECRET,
        "CATCH_UP_SECONDS": "1",
        "LISTENER_PROBE_SECONDS": "0.5",
        "RECONCILE_ENABLED": "false",
        **extra,
    }


@dataclass
class Node:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def start_node(session: aiohttp.ClientSession, env: dict[str, str]) -> Node:
    port = free_port()
    node = Node(f"http://127.0.0.1:{port}", spawn_service(env, "--port", str(port)))
    if not await wait_ready(session, node.url, seconds=40):
        node.stop()
        raise RuntimeError(f"service on {node.url} never became ready")
    return node


async def post_step(session: aiohttp.ClientSession, node: Node, intent_id: str, step: int) -> None:
    status = STEPS[step]
    event = make_event(
        f"payment_intent.{status}", intent(intent_id, status), created=1_700_000_000 + step
    )
    body = event_body(event)
    async with session.post(
        f"{node.url}/webhooks/stripe", data=body.encode(), headers=signed_headers(body)
    ) as response:
        assert response.status == 200, await response.text()


@dataclass
class Watcher:
    """One socket on one node, subscribed to some payments; what it heard, per payment."""

    ws: aiohttp.ClientWebSocketResponse
    heard: dict[str, list[int]] = field(default_factory=dict)  # timeline versions
    status: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, node: Node, payment_ids: list[str]
    ) -> Watcher:
        watcher = cls(await session.ws_connect(f"{node.url}/ws", headers=API))
        for pid in payment_ids:
            await watcher.ws.send_json({"type": "subscribe", "payment_id": pid})
            watcher.heard[pid] = []
            while True:
                # The hub registers before it reads the snapshot, so a catch-up round
                # may offer the payment's (unchanged, version 1) state first.
                message = await watcher.next()
                assert message.get("payment_id") == pid, message
                if message["type"] == "snapshot":
                    break
                assert (message["type"], message["version"]) == ("update", 1), message
        return watcher

    async def next(self, timeout: float = 15) -> dict[str, Any]:
        while True:
            msg = await self.ws.receive(timeout=timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            body: dict[str, Any] = json.loads(msg.data)
            if body["type"] != "ping":
                return body

    async def until_final(self, version: int, timeout: float = 15) -> None:
        """Read updates until every payment is at ``version``."""
        while any(v[-1:] != [version] for v in self.heard.values()):
            message = await self.next(timeout)
            assert message["type"] == "update", message
            pid = message["payment_id"]
            self.heard[pid].extend(e["version"] for e in message["timeline"])
            self.status[pid] = message["payment"]["status"]
