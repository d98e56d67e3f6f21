"""``IdentityStore``: one transaction over customers and the Clerk inbox together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.db.clerk_inbox_repo import ClerkInboxQueries
from service.db.customers_repo import CustomersRepo
from service.db.pool import Pool


class IdentityRepo(CustomersRepo, ClerkInboxQueries):
    """Customers' identities and the Clerk inbox on one connection."""


class IdentityStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[IdentityRepo]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield IdentityRepo(conn)
