"""Every typed application key, in one place."""

from __future__ import annotations

from aiohttp import web

from service.config import Settings
from service.db.pool import Pool

SETTINGS = web.AppKey("settings", Settings)
DB_POOL = web.AppKey("db_pool", Pool)

REQUEST_ID = web.RequestKey("request_id", str)
