"""``python -m service deliver``: the delivery worker as a process of its own.

The web process starts one (``MERCHANT_WEBHOOK_DELIVERY=process``, see ``child.py``) with
``--piped``: it lowers its own CPU priority, reads nudges from stdin (end of input: the
parent is gone, even after a ``kill -9``, so it stops and its leases lapse) and reports its
counters on stdout once a second. Without ``--piped`` it runs until SIGTERM/SIGINT, for a
deployment that runs delivery on its own (web processes then set ``off``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from service import bootstrap
from service.config import Settings
from service.db.notifications_repo import NotificationsStore
from service.db.pool import close_pool
from service.event_loop import new_event_loop
from service.notifications.web_load import WebLoad
from service.notifications.worker import DeliveryConfig, DeliveryWorker

log = logging.getLogger(__name__)

NUDGE = b"nudge\n"
REPORT_SECONDS = 1.0


def deliver_command(settings: Settings, *, piped: bool) -> int:
    """The body of ``python -m service deliver``; its exit code."""
    if settings.database_url is None or not settings.merchant_webhook_urls:
        log.error("deliver needs DATABASE_URL and MERCHANT_WEBHOOK_URLS")
        return 2
    if piped:
        os.nice(settings.merchant_webhook_nice)
    with asyncio.Runner(loop_factory=lambda: new_event_loop(settings.event_loop)) as runner:
        runner.run(_deliver(settings, piped=piped))
    return 0


async def _deliver(settings: Settings, *, piped: bool) -> None:
    assert settings.database_url is not None
    config = DeliveryConfig.from_settings(settings)
    # Each request in flight may be recording its answer, plus a claim and a backlog read.
    connections = config.concurrency * len(config.urls) + 2
    pool = await bootstrap.database_pool(settings, max_size=connections)
    # Piped: the parent is the web process whose load deliveries give way to.
    yield_seconds = settings.merchant_webhook_yield_seconds
    room = WebLoad(os.getppid(), yield_seconds) if piped and yield_seconds > 0 else None
    worker = DeliveryWorker(
        NotificationsStore(pool),
        settings.database_url,
        config,
        room=room.wait if room else None,
        listen=not piped,  # piped: the web process says when it wrote a notification
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await worker.start()
    log.info("delivering notifications to %d endpoint(s)", len(config.urls))
    tasks: list[asyncio.Task[object]] = [asyncio.create_task(_until(stop))]
    if piped:
        tasks += [
            asyncio.create_task(_follow_parent(worker)),
            asyncio.create_task(_report(worker)),
        ]
    if room is not None:
        tasks.append(asyncio.create_task(room.run()))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await worker.stop()
        await close_pool(pool, settings.shutdown_timeout_seconds)
    if room is not None:
        log.info("delivery stopped; waited %.1f s for the web process", room.waited_seconds)
    else:
        log.info("delivery stopped")


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()


async def _follow_parent(worker: DeliveryWorker) -> None:
    """Nudges from the parent until its end of the pipe closes."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line == NUDGE:
            worker.nudge()


async def _report(worker: DeliveryWorker) -> None:
    while True:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.write(worker.stats.to_json() + "\n")
            sys.stdout.flush()
        await asyncio.sleep(REPORT_SECONDS)
