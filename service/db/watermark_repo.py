"""What reconciliation reads and writes besides ``PaymentsRepo``: stale payments and the
``service_state`` key/value table (watermarks), plus a lock so one process reconciles.

``ReconcileQueries`` is a mixin over the same connection and transaction. ``ReconcileStore``
hands out ``PaymentsRepo`` + ``ReconcileQueries`` per transaction, so the reconciler
works without touching ``PaymentsRepo``; mixing ``ReconcileQueries`` into it later
makes ``PgStore`` itself a ``ReconcileStore``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from service.db.payments_repo import _PAYMENT_COLUMNS, PaymentsRepo, _payment
from service.db.pool import Pool
from service.db.store import AfterCommit, RepoSource
from service.payments.models import Payment

# pg_advisory_lock key of the reconciler: one round at a time across processes.
RECONCILE_LOCK_KEY = 0x7061796C_72636E  # "payl" "rcn"


class ReconcileQueries:
    conn: asyncpg.Connection

    async def stale_payments(
        self, *, updated_before: datetime, updated_after: datetime | None, limit: int
    ) -> list[Payment]:
        """Unfinished payments known to Stripe (a PaymentIntent, or a Checkout Session
        whose PaymentIntent Stripe makes only once the customer pays), unchanged since
        ``updated_before`` (and changed after ``updated_after``), most recently changed
        first."""
        rows = await self.conn.fetch(
            f"""SELECT {_PAYMENT_COLUMNS} FROM payments
                WHERE status NOT IN ('succeeded', 'canceled')
                  AND (stripe_payment_intent_id IS NOT NULL
                       OR stripe_checkout_session_id IS NOT NULL)
                  AND updated_at < $1
                  AND ($2::timestamptz IS NULL OR updated_at > $2)
                ORDER BY updated_at DESC LIMIT $3""",  # noqa: S608 - constant SQL pieces only
            updated_before,
            updated_after,
            limit,
        )
        return [_payment(row) for row in rows]

    async def get_service_state(self, key: str) -> dict[str, Any] | None:
        value = await self.conn.fetchval("SELECT value FROM service_state WHERE key = $1", key)
        return value if isinstance(value, dict) else None

    async def set_service_state(self, key: str, value: dict[str, Any]) -> None:
        await self.conn.execute(
            """INSERT INTO service_state (key, value) VALUES ($1, $2)
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
            key,
            value,
        )


class ReconcileRepo(PaymentsRepo, ReconcileQueries):
    pass


class ReconcileStore(RepoSource[ReconcileRepo]):
    """Like ``PgStore``, with the reconciliation queries on each transaction."""

    repo_type = ReconcileRepo

    def __init__(
        self,
        pool: Pool,
        *,
        after_commit: AfterCommit | None = None,
        notify_merchants: bool = True,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.after_commit = after_commit
        self.notify_merchants = notify_merchants
        self.on_outbox = on_outbox

    @asynccontextmanager
    async def exclusive(self, key: int = RECONCILE_LOCK_KEY) -> AsyncIterator[bool]:
        """Try a transaction-level advisory lock for the block; yields whether this
        process got it. However the block ends (even cancelled, or the connection lost),
        the transaction ends and PostgreSQL frees the lock."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", key))
