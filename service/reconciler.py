"""Reconciliation in the background: the ``Reconciler`` loop and its cleanup_ctx.

The loop never dies on an error: a failed round is logged and the next one starts an
interval later. Rounds in several processes are safe (the inbox and the row locks make
them idempotent); an advisory lock still lets one process at a time do the Stripe calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from service.db.watermark_repo import ReconcileStore
from service.keys import DB_POOL, GATEWAY, STORE
from service.payments.ports import PaymentGateway
from service.payments.reconcile import (
    ReconcilePolicy,
    ReconcileReport,
    ReconcileStats,
    reconcile_once,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileConfig:
    """The loop's settings (built by ``service/bootstrap.py``; the defaults are in
    ``config.py`` only)."""

    enabled: bool
    interval_seconds: float  # between rounds; the first round waits one interval
    policy: ReconcilePolicy  # what each round looks at


class Reconciler:
    """Rounds every ``interval_seconds`` until cancelled; counts go to ``stats``."""

    def __init__(
        self,
        store: ReconcileStore,
        gateway: PaymentGateway,
        config: ReconcileConfig,
        stats: ReconcileStats,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.config = config
        self.stats = stats

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval_seconds)
            await self.round()

    async def round(self) -> ReconcileReport | None:
        """One round under the advisory lock; None if skipped or failed (never raises)."""
        try:
            async with self.store.exclusive() as mine:
                if not mine:
                    self.stats.skipped_rounds += 1
                    return None
                report = await reconcile_once(
                    self.store, self.gateway, self.config.policy, now=datetime.now(UTC)
                )
        except Exception:
            self.stats.failed_rounds += 1
            log.exception("reconciliation round failed; retrying next round")
            return None
        self.stats.add(report, time.time())
        log.log(
            logging.INFO if report.corrected or report.events_backfilled else logging.DEBUG,
            "reconciliation round done",
            extra=report.as_dict(),
        )
        return report


def reconcile_in_background(
    config: ReconcileConfig, stats: ReconcileStats
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx running the ``Reconciler`` (after the database and Stripe ones)."""

    async def reconciler(app: web.Application) -> AsyncIterator[None]:
        if not config.enabled:
            yield
            return
        worker = Reconciler(
            ReconcileStore(
                app[DB_POOL],
                after_commit=app[STORE].after_commit,
                notify_merchants=app[STORE].notify_merchants,
                on_outbox=app[STORE].on_outbox,
            ),
            app[GATEWAY],
            config,
            stats,
        )
        task = asyncio.create_task(worker.run_forever(), name="paylive-reconciler")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return reconciler
