"""Serving one process: the app on a port until SIGTERM/SIGINT, GC tuned for it."""

from __future__ import annotations

import logging

from aiohttp import web

from service.app import create_app
from service.config import Settings
from service.gc_tuning import SERVING_THRESHOLDS, tune_for_serving
from service.http.request_id import JsonAccessLogger

log = logging.getLogger(__name__)


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    reuse_port: bool = False,
    gc_thresholds: tuple[int, int, int] | None = SERVING_THRESHOLDS,
) -> None:
    """Serve until SIGTERM/SIGINT. `gc_thresholds`: see ``service/gc_tuning.py`` (None:
    CPython's defaults, for comparison)."""
    app = create_app(settings)
    if gc_thresholds is not None:
        thresholds = gc_thresholds

        async def tune_gc(app: web.Application) -> None:
            tune_for_serving(thresholds)

        app.on_startup.append(tune_gc)  # after the cleanup_ctx resources are up
    log.info("serving on http://%s:%d/", host, port)
    web.run_app(
        app,
        host=host,
        port=port,
        access_log_class=JsonAccessLogger,
        reuse_port=reuse_port,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        print=None,
    )
