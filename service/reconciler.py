"""Reconciliation in the background (a cleanup_ctx) and as ``python -m service reconcile``.

The loop never dies on an error: a failed round is logged and the next one starts an
interval later. Rounds in several processes are safe (the inbox and the row locks make
them idempotent); an advisory lock still lets one process at a time do the Stripe calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from service.config import Settings
from service.db.pool import create_pool
from service.db.watermark_repo import ReconcileStore
from service.keys import DB_POOL, GATEWAY
from service.payments.ports import PaymentGateway
from service.payments.reconcile import ReconcileReport, ReconcileStats, reconcile_once
from service.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)


class ReconcileSettings(Protocol):
    """The settings fields reconciliation reads (``Settings`` has them)."""

    @property
    def reconcile_enabled(self) -> bool: ...
    @property
    def reconcile_interval_seconds(self) -> float: ...
    @property
    def reconcile_older_than_seconds(self) -> float: ...
    @property
    def reconcile_batch_size(self) -> int: ...
    @property
    def reconcile_max_age_seconds(self) -> float: ...
    @property
    def reconcile_lookback_seconds(self) -> int: ...


@dataclass(frozen=True)
class ReconcileConfig:
    enabled: bool = True
    interval_seconds: float = 60.0  # between rounds; the first round waits one interval
    older_than_seconds: float = 60.0  # a payment unchanged this long is asked about
    batch_size: int = 100  # stale payments per round, most recently changed first
    max_age_seconds: float = 7 * 24 * 3600.0  # older unfinished payments are left alone
    lookback_seconds: int = 3 * 24 * 3600  # first backfill, before any watermark exists

    @classmethod
    def from_settings(cls, settings: ReconcileSettings) -> ReconcileConfig:
        return cls(
            enabled=settings.reconcile_enabled,
            interval_seconds=settings.reconcile_interval_seconds,
            older_than_seconds=settings.reconcile_older_than_seconds,
            batch_size=settings.reconcile_batch_size,
            max_age_seconds=settings.reconcile_max_age_seconds,
            lookback_seconds=settings.reconcile_lookback_seconds,
        )


async def run_round(
    store: ReconcileStore, gateway: PaymentGateway, config: ReconcileConfig
) -> ReconcileReport:
    return await reconcile_once(
        store,
        gateway,
        older_than_seconds=config.older_than_seconds,
        now=datetime.now(UTC),
        batch_size=config.batch_size,
        max_age_seconds=config.max_age_seconds,
        backfill_lookback_seconds=config.lookback_seconds,
    )


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
                report = await run_round(self.store, self.gateway, self.config)
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
        worker = Reconciler(ReconcileStore(app[DB_POOL]), app[GATEWAY], config, stats)
        task = asyncio.create_task(worker.run_forever(), name="paylive-reconciler")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return reconciler


async def reconcile_command(settings: Settings, config: ReconcileConfig) -> ReconcileReport:
    """``python -m service reconcile``: one round now, without waiting for the lock (a
    round is safe next to another one), with its own pool and Stripe client."""
    assert settings.database_url is not None
    assert settings.stripe_secret_key is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    gateway = StripeGateway(
        settings.stripe_secret_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        max_network_retries=settings.stripe_max_network_retries,
    )
    try:
        return await run_round(ReconcileStore(pool), gateway, config)
    finally:
        await gateway.close()
        await pool.close()


def reconcile_cli(settings: Settings, config: ReconcileConfig) -> int:
    """The body of ``python -m service reconcile``: prints the report as one JSON line;
    exit code 1 if anything failed (it is retried by the next run), else 0."""
    report = asyncio.run(reconcile_command(settings, config))
    print(json.dumps(report.as_dict()), flush=True)
    return 1 if report.errors else 0
