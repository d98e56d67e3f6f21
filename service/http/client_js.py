"""``GET /paylive.js`` and ``/paylive.d.ts``: the browser client, served by the service.

Read and hashed once when the routes are set up, never per request. The ETag is the
content hash, so a cached copy is revalidated with a 304. ``?v=<hash>`` (the current
one) may be cached for a year; the bare URL for a day. Any page on a ``CORS_ORIGINS``
origin may load it: module scripts are fetched with CORS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web

from service.keys import SETTINGS

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
DAY_SECONDS = 24 * 3600
YEAR_SECONDS = 365 * DAY_SECONDS


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    version: str  # the first 16 hex digits of the body's SHA-256

    @classmethod
    def read(cls, path: Path, content_type: str) -> Asset:
        body = path.read_bytes()
        return cls(body, content_type, hashlib.sha256(body).hexdigest()[:16])

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    async def handle(self, request: web.Request) -> web.Response:
        pinned = request.query.get("v") == self.version
        max_age = YEAR_SECONDS if pinned else DAY_SECONDS
        headers = {
            hdrs.ETAG: self.etag,
            hdrs.CACHE_CONTROL: f"public, max-age={max_age}" + (", immutable" if pinned else ""),
            hdrs.VARY: "Origin",
            "X-Content-Type-Options": "nosniff",
        }
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin in request.app[SETTINGS].cors_origins:
            headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        if _matches(request.headers.get(hdrs.IF_NONE_MATCH), self.etag):
            return web.Response(status=304, headers=headers)
        headers[hdrs.CONTENT_TYPE] = self.content_type
        return web.Response(body=self.body, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@dataclass(frozen=True)
class ClientScripts:
    javascript: Asset
    types: Asset

    @classmethod
    def load(cls, folder: Path = WEB_DIR) -> ClientScripts:
        return cls(
            javascript=Asset.read(folder / "paylive.js", "text/javascript; charset=utf-8"),
            types=Asset.read(folder / "paylive.d.ts", "application/typescript; charset=utf-8"),
        )
