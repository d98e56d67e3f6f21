"""``PgStore``: one transaction per use-case step (or a bare connection for single
statements), handed out as a ``PaymentsRepo``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.db.payments_repo import PaymentsRepo
from service.db.pool import Pool


class PgStore:
    def __init__(self, pool: Pool, *, notify_merchants: bool = True) -> None:
        self.pool = pool
        self.notify_merchants = notify_merchants  # False: no MERCHANT_WEBHOOK_URLS

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PaymentsRepo]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PaymentsRepo(conn, notify_merchants=self.notify_merchants)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PaymentsRepo]:
        """No transaction: each statement is atomic and sees its own snapshot, and the
        caller must not assume two statements agree. Saves BEGIN and COMMIT."""
        async with self.pool.acquire() as conn:
            yield PaymentsRepo(conn, notify_merchants=self.notify_merchants)
