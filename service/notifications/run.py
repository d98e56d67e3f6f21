"""Merchant notifications as an app resource (a ``cleanup_ctx``): who delivers them.

The endpoints are recorded here, before the app takes its first change: the outbox writes
one row per configured endpoint, whoever delivers and whenever it starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from service.db.notifications_repo import NotificationsStore
from service.keys import DB_POOL, DELIVERY, SETTINGS, STORE
from service.notifications.child import DeliveryChild
from service.notifications.port import Delivery
from service.notifications.worker import DeliveryConfig, DeliveryWorker


async def deliver_notifications(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url is not None
    store = NotificationsStore(app[DB_POOL])
    await store.sync_endpoints(list(settings.merchant_webhook_urls))
    delivery: Delivery
    if settings.merchant_webhook_delivery == "off":  # `python -m service deliver` elsewhere
        yield
        return
    if settings.merchant_webhook_delivery == "process":
        delivery = DeliveryChild(settings)
    else:
        config = DeliveryConfig.from_settings(settings)
        delivery = DeliveryWorker(store, settings.database_url, config)
    await delivery.start()
    app[DELIVERY] = delivery
    app[STORE].on_outbox = delivery.nudge  # each commit that wrote a notification says so
    yield
    app[STORE].on_outbox = None
    await delivery.stop()
