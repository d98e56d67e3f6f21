"""Faults, made real: PostgreSQL stopped and started under traffic; the service killed
with SIGKILL while Stripe is answering."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from service.app import create_app
from service.config import PROJECT_ROOT
from service.db.embedded import EmbeddedPostgres
from service.db.migrations import migrate
from service.emulator import DeliveryKnobs, EmulatorConfig
from tests.support.api import API
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.processes import free_port, spawn_service, wait_ready
from tests.support.settings import TEST_API_KEY, make_settings

SECRET = "whsec_paylive_faults_0123456789"


@pytest.fixture
def cluster() -> Iterator[EmbeddedPostgres]:
    """A cluster of this test's own, so stopping it disturbs nobody else."""
    own = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="paylive-faults-pg-")), durable=False)
    own.start()
    yield own
    own.destroy()


async def _migrated(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, PROJECT_ROOT / "sql")
    finally:
        await conn.close()


@pytest.fixture
async def service_url(cluster: EmbeddedPostgres) -> AsyncIterator[tuple[str, RunningEmulator]]:
    dsn = cluster.dsn("paylive")
    await _migrated(dsn)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = EmulatorConfig(
        webhook_url=f"{url}/webhooks/stripe",
        webhook_secret=SECRET,
        knobs=DeliveryKnobs(retry_base=0.3, max_attempts=12, timeout=5),
    )
    async with running_emulator(config) as emulator:
        settings = make_settings(
            dsn,
            stripe_api_base=emulator.url,
            stripe_webhook_secrets=[SECRET],
            listener_probe_seconds=0.3,
            catch_up_seconds=0.5,
        )
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield url, emulator
        finally:
            await runner.cleanup()


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    return body


async def test_postgres_restarted_under_traffic(
    cluster: EmbeddedPostgres, service_url: tuple[str, RunningEmulator]
) -> None:
    url, emulator = service_url
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/api/payment-intents",
            headers=API,
            json={
                "order_id": "fault-order-1",
                "amount": 2500,
                "currency": "usd",
            },
        ) as response:
            created = await _json(response)
            assert response.status == 201, created
        await emulator.handle.wait_idle()
        ws = await session.ws_connect(f"{url}/ws", headers=API)
        await ws.send_json({"type": "subscribe", "payment_id": created["payment_id"]})
        snapshot = json.loads((await ws.receive(timeout=5)).data)
        held = snapshot["version"]

        cluster.stop()
        async with session.post(
            f"{url}/api/payment-intents",
            headers=API,
            json={
                "order_id": "fault-order-2",
                "amount": 2500,
                "currency": "usd",
            },
        ) as response:
            assert response.status == 503
            assert (await _json(response))["error"]["code"] == "database_unavailable"
        async with session.get(f"{url}/readyz") as response:
            assert response.status == 503
        # Stripe confirms the payment while we are down: its webhooks get 500 and are retried.
        async with session.post(
            f"{emulator.url}/v1/payment_intents/{created['payment_intent_id']}/confirm",
            data={"payment_method": "pm_card_visa"},
            headers={"Authorization": f"Bearer {emulator.secret_key}"},
        ) as response:
            assert response.status == 200
        await asyncio.sleep(1.0)
        failed = [d for d in emulator.handle.deliveries if d.status == 500]
        assert failed, "webhooks should have failed while the database was down"

        cluster.start()
        assert await wait_ready(session, url)
        await emulator.handle.wait_idle()

        # The subscriber hears the change although it committed after the listener was cut.
        status = snapshot["payment"]["status"]
        async with asyncio.timeout(15):
            while status != "succeeded":
                message = json.loads((await ws.receive()).data)
                if message["type"] == "update":
                    assert message["version"] > held
                    held, status = message["version"], message["payment"]["status"]
        await ws.close()

        async with session.get(
            f"{url}/api/payments/{created['payment_id']}/timeline", headers=API
        ) as response:
            timeline = (await _json(response))["data"]
        versions = [entry["version"] for entry in timeline]
        assert versions == list(range(1, len(versions) + 1))
        assert [e["kind"] for e in timeline].count("payment_intent.succeeded") == 1
    conn = await asyncpg.connect(cluster.dsn("paylive"))
    try:
        unprocessed = await conn.fetchval(
            "SELECT count(*) FROM stripe_events WHERE processed_at IS NULL"
        )
        assert unprocessed == 0
    finally:
        await conn.close()


def _serve(dsn: str, port: int, api_base: str) -> subprocess.Popen[bytes]:
    env = {
        "DATABASE_URL": dsn,
        "STRIPE_SECRET_KEY": "sk_test_paylive_faults",
        "STRIPE_API_BASE": api_base,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "API_KEYS": TEST_API_KEY,
    }
    return spawn_service(env, "--port", str(port))


async def test_sigkill_between_stripe_and_commit(database_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    body = {"order_id": f"kill-{time.time_ns()}", "amount": 4200, "currency": "usd"}
    # Stripe takes 1.5 s to answer: the service dies while the create is at Stripe.
    async with running_emulator(api_delay=1.5) as emulator, aiohttp.ClientSession() as session:
        first = _serve(database_url, port, emulator.url)
        try:
            assert await wait_ready(session, url)
            request = asyncio.ensure_future(
                session.post(f"{url}/api/payment-intents", headers=API, json=body)
            )
            await asyncio.sleep(0.7)
            first.send_signal(signal.SIGKILL)
            with pytest.raises(aiohttp.ClientError):
                await request
        finally:
            first.kill()
            first.wait()
        await asyncio.sleep(1.5)  # Stripe finishes the PaymentIntent nobody recorded

        second = _serve(database_url, port, emulator.url)
        try:
            assert await wait_ready(session, url)
            async with session.post(
                f"{url}/api/payment-intents", headers=API, json=body
            ) as response:
                retried = await _json(response)
                assert response.status == 200, retried  # the row written before Stripe
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0
        async with session.get(
            f"{emulator.url}/v1/payment_intents?limit=100",
            headers={"Authorization": f"Bearer {emulator.secret_key}"},
        ) as response:
            listing = await _json(response)
        intents = [
            pi["id"] for pi in listing["data"] if pi["metadata"].get("order_id") == body["order_id"]
        ]
        assert intents == [retried["payment_intent_id"]]
