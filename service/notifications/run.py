"""The delivery worker as an app resource (a ``cleanup_ctx``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from service.db.notifications_repo import NotificationsStore
from service.keys import DB_POOL, DELIVERY, SETTINGS
from service.notifications.worker import DeliveryConfig, DeliveryWorker


async def deliver_notifications(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.database_url is not None
    worker = DeliveryWorker(
        NotificationsStore(app[DB_POOL]),
        settings.database_url,
        DeliveryConfig.from_settings(settings),
    )
    await worker.start()
    app[DELIVERY] = worker
    yield
    await worker.stop()
