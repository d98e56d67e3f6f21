"""Serving one process: the app on a port until SIGTERM/SIGINT, GC tuned for it."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from service.app import create_app
from service.config import Settings
from service.event_loop import new_event_loop
from service.gc_tuning import SERVING_THRESHOLDS, tune_for_serving
from service.http.request_id import JsonAccessLogger
from service.keys import DB_POOL, SETTINGS, STORE
from service.warm_up import warm_pool

log = logging.getLogger(__name__)


def handler_args(settings: Settings) -> dict[str, Any]:
    """The connection handler's settings (for ``run_app`` or an ``AppRunner``).

    aiohttp has no header-read timeout of its own, but its keep-alive timer runs from a
    connection's start and from each answer's end, is not pushed back by incoming bytes,
    and closes the connection if no complete request head has arrived by then. Set to the
    header timeout it cuts slow-header (slowloris) clients, and idle keep-alive
    connections after as long; a request being handled (a stream, a socket) is not cut.
    """
    return {"keepalive_timeout": settings.header_timeout_seconds}


async def _warm_up(app: web.Application) -> None:
    """See ``service/warm_up.py``: the pool opened and its statements prepared."""
    settings, store = app[SETTINGS], app[STORE]
    await warm_pool(
        app[DB_POOL],
        settings.db_pool_max_size,
        notify=store.after_commit is None,
        notify_merchants=store.notify_merchants,
        livemode=settings.livemode,
    )


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
    app.on_startup.append(_warm_up)  # after the cleanup_ctx resources are up
    if gc_thresholds is not None:
        thresholds = gc_thresholds
        # Clients are frozen only on uvloop: asyncio's own socket transports keep a
        # reference cycle each, which frozen would never be freed (see gc_tuning).
        freeze_clients = settings.event_loop == "uvloop"

        async def tune_gc(app: web.Application) -> None:
            tune_for_serving(thresholds, freeze_clients=freeze_clients)

        app.on_startup.append(tune_gc)  # last: freezes what start-up and warm-up built
    log.info("serving on http://%s:%d/ (%s event loop)", host, port, settings.event_loop)
    web.run_app(
        app,
        loop=new_event_loop(settings.event_loop),
        host=host,
        port=port,
        access_log_class=JsonAccessLogger,
        reuse_port=reuse_port,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        print=None,
        **handler_args(settings),
    )
