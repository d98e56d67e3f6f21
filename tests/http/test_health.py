from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from tests.support.settings import make_settings
from tests.support.tcp_proxy import proxy_database


async def test_healthz(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def _ready_within(
    client: TestClient[web.Request, web.Application], seconds: float
) -> dict[str, object]:
    """The listener reconnects with backoff, so readiness returns within a few seconds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get("/readyz")
        body: dict[str, object] = await response.json()
        if response.status == 200 or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.2)


async def test_readyz_follows_the_database(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    proxy, proxied = await proxy_database(database_url)
    try:
        client = await aiohttp_client(create_app(make_settings(proxied)))
        assert (await client.get("/readyz")).status == 200

        proxy.cut()
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"] == "unreachable"

        proxy.restore()
        body = await _ready_within(client, seconds=15)
        assert body["checks"] == {"database": "ok", "listener": "ok"}
    finally:
        await proxy.close()
