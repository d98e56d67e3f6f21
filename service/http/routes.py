"""Every URL the service answers, in one list."""

from __future__ import annotations

from aiohttp import web

from service.http import health


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
