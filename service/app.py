"""``create_app``: wiring only. Each resource is set up and torn down in one cleanup_ctx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from service.config import Settings
from service.db.pool import create_pool
from service.http.errors import error_middleware
from service.http.request_id import request_id_middleware
from service.http.routes import setup_routes
from service.keys import DB_POOL, SETTINGS

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (resolved by __main__)")
    app = web.Application(
        middlewares=[request_id_middleware, error_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    setup_routes(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url is not None
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
    )
    app[DB_POOL] = pool
    yield
    await pool.close()
