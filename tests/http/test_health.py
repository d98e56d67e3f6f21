from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from tests.conftest import make_settings
from tests.support.tcp_proxy import TcpProxy


async def test_healthz(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_follows_the_database(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    parts = urlsplit(database_url)
    assert parts.hostname is not None
    assert parts.port is not None
    proxy = TcpProxy(parts.hostname, parts.port)
    port = await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
    try:
        client = await aiohttp_client(create_app(make_settings(proxied)))
        assert (await client.get("/readyz")).status == 200

        proxy.cut()
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body == {"status": "not_ready", "checks": {"database": "unreachable"}}

        proxy.restore()
        response = await client.get("/readyz")
        assert response.status == 200
        assert (await response.json())["checks"] == {"database": "ok"}
    finally:
        await proxy.close()
