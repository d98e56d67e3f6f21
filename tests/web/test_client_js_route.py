"""GET /paylive.js and /paylive.d.ts: content types, content-hash ETag, 304, cache, CORS."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.http.client_js import WEB_DIR, ClientScripts
from tests.support.settings import make_settings

SHOP = "https://shop.example"
Client = TestClient[web.Request, web.Application]


async def _client(aiohttp_client: AiohttpClient, database_url: str) -> Client:
    return await aiohttp_client(create_app(make_settings(database_url, cors_origins=[SHOP])))


async def test_served_with_type_hash_etag_and_cache(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    client = await _client(aiohttp_client, database_url)
    for path, content_type in (
        ("/paylive.js", "text/javascript"),
        ("/paylive.d.ts", "application/typescript"),
    ):
        body = (WEB_DIR / path.lstrip("/")).read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == content_type
        assert response.charset == "utf-8"
        assert await response.read() == body
        assert response.headers["ETag"] == f'"{digest}"'
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        pinned = await client.get(f"{path}?v={digest}")
        assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        stale = await client.get(f"{path}?v=0000000000000000")
        assert stale.headers["Cache-Control"] == "public, max-age=86400"


async def test_if_none_match_answers_304(aiohttp_client: AiohttpClient, database_url: str) -> None:
    client = await _client(aiohttp_client, database_url)
    etag = (await client.get("/paylive.js")).headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await client.get("/paylive.js", headers={"If-None-Match": header})
        assert response.status == 304, header
        assert await response.read() == b""
        assert response.headers["ETag"] == etag
    changed = await client.get("/paylive.js", headers={"If-None-Match": '"0000000000000000"'})
    assert changed.status == 200
    assert len(await changed.read()) > 1000


async def test_cors_for_configured_origins_only(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    client = await _client(aiohttp_client, database_url)
    allowed = await client.get("/paylive.js", headers={"Origin": SHOP})
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in allowed.headers["Vary"]
    other = await client.get("/paylive.js", headers={"Origin": "https://evil.example"})
    assert other.status == 200
    assert "Access-Control-Allow-Origin" not in other.headers
    types = await client.get("/paylive.d.ts", headers={"Origin": SHOP})
    assert types.headers["Access-Control-Allow-Origin"] == SHOP


def test_read_and_hashed_once_when_loaded(tmp_path: Path) -> None:
    (tmp_path / "paylive.js").write_text("export const a = 1;\n")
    (tmp_path / "paylive.d.ts").write_text("export declare const a: number;\n")
    scripts = ClientScripts.load(tmp_path)
    (tmp_path / "paylive.js").write_text("export const a = 2;\n")  # changed after loading
    assert scripts.javascript.body == b"export const a = 1;\n"
    assert scripts.javascript.version == hashlib.sha256(b"export const a = 1;\n").hexdigest()[:16]
    assert scripts.types.version != scripts.javascript.version
