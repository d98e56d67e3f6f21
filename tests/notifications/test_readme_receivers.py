"""The README's receiver examples, run as written against real deliveries.

Python: the snippet, executed, verifies with the ``standardwebhooks`` package. Node: the
snippet, run by ``node``, with a stand-in ``standardwebhooks`` module written on Node's
own ``crypto`` from the spec (the tests install nothing from npm); it checks paylive's
signatures independently of the Python library.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from service.config import PROJECT_ROOT
from service.db.pool import Pool
from service.db.store import PgStore
from tests.notifications.conftest import fast_config, running_worker
from tests.notifications.receiver import SECRET, wait_for
from tests.support.payments import add_payment, change
from tests.support.processes import free_port

SHIM = """import crypto from "node:crypto";
export class Webhook {
  constructor(secret) { this.key = Buffer.from(secret.replace(/^whsec_/, ""), "base64"); }
  verify(payload, headers) {
    const id = headers["webhook-id"], ts = headers["webhook-timestamp"];
    const signatures = headers["webhook-signature"];
    if (!id || !ts || !signatures) throw new Error("missing headers");
    if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) throw new Error("stale");
    const expected = crypto.createHmac("sha256", this.key).update(`${id}.${ts}.${payload}`)
      .digest();
    for (const one of signatures.split(" ")) {
      const [version, sig] = one.split(",");
      const given = Buffer.from(sig || "", "base64");
      if (version === "v1" && given.length === expected.length
          && crypto.timingSafeEqual(given, expected)) return JSON.parse(payload);
    }
    throw new Error("no matching signature");
  }
}
"""


def _snippet(language: str) -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Merchant notifications", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)
    return str(code)


async def _paid(store: PgStore) -> str:
    payment = await add_payment(store, {"seats": "C3 C4"})
    await change(store, payment, "succeeded")
    return payment.order_id


async def test_the_python_receiver(
    pool: Pool, store: PgStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCHANT_WEBHOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": "readme_receiver"}
    exec(compile(_snippet("python"), "README.md", "exec"), namespace)  # noqa: S102
    confirmed: list[tuple[str, str]] = []

    async def confirm_booking(order_id: str, seats: str) -> None:
        confirmed.append((order_id, seats))

    namespace["confirm_booking"] = confirm_booking
    runner = web.AppRunner(namespace["app"])
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/webhooks/paylive"
    try:
        async with running_worker(pool, database_url, fast_config([url])) as worker:
            order_id = await _paid(store)
            await wait_for(lambda: worker.stats.delivered == 2)
        async with aiohttp.ClientSession() as http, http.post(url, data="{}") as forged:
            assert forged.status == 400
    finally:
        await runner.cleanup()
    assert confirmed == [(order_id, "C3 C4")]


async def test_the_node_receiver(
    pool: Pool, store: PgStore, database_url: str, tmp_path: Path
) -> None:
    shim = tmp_path / "node_modules" / "standardwebhooks"
    shim.mkdir(parents=True)
    (shim / "package.json").write_text(
        '{"name": "standardwebhooks", "type": "module", "exports": "./index.js"}'
    )
    (shim / "index.js").write_text(SHIM)
    (tmp_path / "receiver.mjs").write_text(_snippet("js"))
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "MERCHANT_WEBHOOK_SECRET": SECRET}
    node = await asyncio.create_subprocess_exec(
        "node", "receiver.mjs", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/webhooks/paylive"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # until node listens
                try:
                    async with http.post(url, data="{}") as forged:
                        assert forged.status == 400
                        break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.05)
        async with running_worker(pool, database_url, fast_config([url])) as worker:
            order_id = await _paid(store)
            await wait_for(lambda: worker.stats.delivered == 2)
    finally:
        node.terminate()
        output, _ = await asyncio.wait_for(node.communicate(), 10)
    assert output.decode().splitlines() == [f"order {order_id} paid: seats C3 C4 sold"]
