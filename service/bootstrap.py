"""The composition root: each long-lived thing built once, here, from ``Settings``.

``app.py`` wires what this builds into the aiohttp app; ``python -m service reconcile``
uses the same builders. Defaults live in ``config.py`` only: nothing here or below adds
its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

from service.config import Settings
from service.db.pool import Pool, close_pool, create_pool
from service.db.watermark_repo import ReconcileStore
from service.payments.reconcile import ReconcilePolicy, ReconcileReport, reconcile_once
from service.reconciler import ReconcileConfig
from service.stripe_gateway import StripeGateway


def stripe_gateway(
    settings: Settings, *, on_call: Callable[[str, float, str], None] | None = None
) -> StripeGateway:
    """The Stripe client; ``on_call`` sees every call (operation, seconds, outcome)."""
    if settings.stripe_secret_key is None:
        raise ValueError("STRIPE_SECRET_KEY is not set")
    return StripeGateway(
        settings.stripe_secret_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        max_network_retries=settings.stripe_max_network_retries,
        on_call=on_call,
    )


async def database_pool(settings: Settings, *, max_size: int | None = None) -> Pool:
    """The connection pool; ``max_size`` caps it below the setting (a one-off command)."""
    if settings.database_url is None:
        raise ValueError("DATABASE_URL is not resolved")
    size = settings.db_pool_max_size if max_size is None else max_size
    return await create_pool(
        settings.database_url,
        min_size=min(settings.db_pool_min_size, size),
        max_size=size,
        statement_cache_size=settings.db_statement_cache_size,
    )


def reconcile_config(settings: Settings) -> ReconcileConfig:
    return ReconcileConfig(
        enabled=settings.reconcile_enabled,
        interval_seconds=settings.reconcile_interval_seconds,
        policy=ReconcilePolicy(
            older_than_seconds=settings.reconcile_older_than_seconds,
            batch_size=settings.reconcile_batch_size,
            max_age_seconds=settings.reconcile_max_age_seconds,
            lookback_seconds=settings.reconcile_lookback_seconds,
        ),
    )


async def reconcile_command(settings: Settings) -> ReconcileReport:
    """``python -m service reconcile``: one round now, without waiting for the lock (a
    round is safe next to another one), with its own small pool and Stripe client."""
    pool = await database_pool(settings, max_size=2)
    gateway = stripe_gateway(settings)
    try:
        policy = reconcile_config(settings).policy
        return await reconcile_once(ReconcileStore(pool), gateway, policy, now=datetime.now(UTC))
    finally:
        await gateway.close()
        await close_pool(pool, settings.shutdown_timeout_seconds)


def reconcile_cli(settings: Settings) -> int:
    """The body of ``python -m service reconcile``: prints the report as one JSON line;
    exit code 1 if anything failed (it is retried by the next run), else 0."""
    report = asyncio.run(reconcile_command(settings))
    print(json.dumps(report.as_dict()), flush=True)
    return 1 if report.errors else 0
