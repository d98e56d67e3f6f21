"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from service.keys import BROKER, DB_POOL

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """The process answers: nothing else is checked."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers within a second."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(1.0):
            await request.app[DB_POOL].fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", never a 500
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    checks["listener"] = "ok" if request.app[BROKER].healthy else "reconnecting"
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )
