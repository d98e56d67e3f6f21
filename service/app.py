"""``create_app``: wiring only. Each resource is built by ``bootstrap`` and set up and torn
down in one cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from service import bootstrap
from service.config import Settings
from service.db.pool import close_pool
from service.db.store import PgStore
from service.http.auth import AuthConfig
from service.http.cors import setup_cors
from service.http.edge import edge_middleware
from service.http.idempotency import idempotency_middleware
from service.http.input_guard import input_guard_middleware
from service.http.metrics import Metrics
from service.http.openapi import build_document
from service.http.request_id import echo_request_id
from service.http.routes import setup_routes
from service.http.session_auth import setup_sessions
from service.http.webhook_stats import WebhookStats
from service.keys import (
    AUTH,
    BROKER,
    CARD_GATEWAY,
    CONNECTION_LIMITS,
    CUSTOMER_DIRECTORY,
    DB_POOL,
    DELIVERY,
    GATEWAY,
    HUB,
    LISTENER,
    METRICS,
    SETTINGS,
    STORE,
    WEBHOOK_STATS,
)
from service.notifications.run import deliver_notifications
from service.notifications.stats import DeliveryCollector
from service.payments.reconcile import ReconcileStats
from service.realtime import ws
from service.realtime.brokers.factory import make_broker, uses_notify
from service.realtime.brokers.postgres_broker import PostgresBroker
from service.realtime.hub import Hub
from service.realtime.limits import ConnectionLimits
from service.realtime.protocol import CLOSE_RESTART
from service.realtime.stats import RealtimeStats
from service.reconciler import reconcile_in_background

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (resolved by __main__)")
    if settings.stripe_secret_key is None:
        raise ValueError(
            "create_app needs settings.stripe_secret_key (the demo sets the emulator's)"
        )
    metrics = Metrics(
        webhooks=WebhookStats(),
        reconcile=ReconcileStats(),
        realtime=lambda: app[HUB].stats if HUB in app else None,
    )
    idempotency = idempotency_middleware(
        lease_seconds=settings.idempotency_lease_seconds,
        ttl_seconds=settings.idempotency_ttl_seconds,
    )
    app = web.Application(
        # idempotency innermost: what it stores is exactly what the caller saw
        middlewares=[
            # request id, error answer, metrics: one frame; none around the WebSocket
            edge_middleware(metrics, lasting=[ws.websocket]),
            input_guard_middleware,
            idempotency,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[AUTH] = AuthConfig.from_settings(settings)
    app[CONNECTION_LIMITS] = ConnectionLimits.of(
        settings.ws_max_connections_per_token, settings.ws_max_connections_per_address
    )
    app[METRICS] = metrics
    app[WEBHOOK_STATS] = metrics.webhooks
    setup_sessions(app)
    metrics.registry.register(
        DeliveryCollector(lambda: app[DELIVERY].stats if DELIVERY in app else None)
    )
    if settings.status_token_secret is None:
        log.warning("STATUS_TOKEN_SECRET unset: status tokens are valid in this process only")
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_stripe)
    app.cleanup_ctx.append(_realtime)
    if settings.merchant_webhook_urls:
        app.cleanup_ctx.append(deliver_notifications)
    app.cleanup_ctx.append(
        reconcile_in_background(bootstrap.reconcile_config(settings), metrics.reconcile)
    )
    app.on_response_prepare.append(echo_request_id)
    app.on_shutdown.append(_close_clients)
    setup_routes(app)
    build_document(app)
    setup_cors(app, settings.cors_origins)  # last: aiohttp-cors wraps the routes that exist
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    pool = await bootstrap.database_pool(app[SETTINGS])
    app[DB_POOL] = pool
    app[STORE] = PgStore(pool, notify_merchants=bool(app[SETTINGS].merchant_webhook_urls))
    yield
    await close_pool(pool, app[SETTINGS].shutdown_timeout_seconds)


async def _stripe(app: web.Application) -> AsyncIterator[None]:
    gateway = bootstrap.stripe_gateway(app[SETTINGS], on_call=app[METRICS].observe_stripe_call)
    app[GATEWAY] = gateway
    app[CUSTOMER_DIRECTORY] = gateway
    app[CARD_GATEWAY] = gateway
    yield
    await gateway.close()


async def _realtime(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url is not None
    hub = Hub(
        app[STORE],
        RealtimeStats(),
        slow_after=settings.ws_slow_after_seconds,
        ping_every=settings.ws_ping_seconds,
    )
    broker = make_broker(settings, hub, app[DB_POOL])
    if not uses_notify(settings):
        app[STORE].after_commit = broker.publish  # publish after commit, no NOTIFY
    app[HUB] = hub
    app[BROKER] = broker
    if isinstance(broker, PostgresBroker):
        app[LISTENER] = broker
    await broker.start()
    watchdog = asyncio.create_task(hub.close_stuck_clients())
    yield
    watchdog.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watchdog
    await broker.stop()


async def _close_clients(app: web.Application) -> None:
    """Close every live client at once, telling it to reconnect (1012)."""
    clients = list(app[HUB].clients)
    if clients:
        log.info("closing %d live client(s) for shutdown", len(clients))
        await asyncio.gather(
            *(c.close(CLOSE_RESTART, "server restarting") for c in clients),
            return_exceptions=True,
        )
