"""``PgStore``: one transaction per use-case step (or a bare connection for single
statements), handed out as a ``PaymentsRepo``; or, for an event that needs no more than
one change, no transaction at all (``optimistic``: the change written only if its payment
is still as read).

With a fan-out broker the changes are not NOTIFYed inside the transaction: once it has
committed, the store hands them to ``after_commit`` (the broker's publish), never for a
transaction that rolled back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, TypeVar
from uuid import UUID

import asyncpg

from service.db.payments_repo import PaymentsRepo
from service.db.pool import Pool
from service.payments.models import NewPayment, Payment

Committed = tuple[UUID, int, float]  # payment, its new version, when the change was made
AfterCommit = Callable[[Sequence[Committed]], None]


@asynccontextmanager
async def committing(
    conn: asyncpg.Connection,
    repo: PaymentsRepo,
    after_commit: AfterCommit | None,
    on_outbox: Callable[[], None] | None = None,
) -> AsyncIterator[None]:
    """A transaction on ``conn``; then ``after_commit`` sees what ``repo`` changed, and
    ``on_outbox`` hears that it wrote a merchant notification."""
    async with conn.transaction():
        yield
        await repo.flush_staged()  # what no change took along (``inbox_add``, ``add_attempt``)
    _committed(repo, after_commit, on_outbox)


@asynccontextmanager
async def autocommitting(
    repo: PaymentsRepo,
    after_commit: AfterCommit | None,
    on_outbox: Callable[[], None] | None = None,
) -> AsyncIterator[None]:
    """An optimistic ``repo``'s block (no transaction: its one change commits with its
    statement); then, as ``committing`` does, what no change took along, and the hooks."""
    yield
    await repo.flush_staged()
    _committed(repo, after_commit, on_outbox)


def _committed(
    repo: PaymentsRepo, after_commit: AfterCommit | None, on_outbox: Callable[[], None] | None
) -> None:
    if after_commit is not None and repo.committed:
        after_commit(repo.committed)
    if on_outbox is not None and repo.wrote_notification:
        on_outbox()


R = TypeVar("R", bound=PaymentsRepo)


class RepoSource(Generic[R]):
    """Hands out a ``repo_type`` on a pooled connection for one use-case step: in a
    transaction (``committing``), or optimistic (``autocommitting``,
    ``PaymentsRepo(optimistic=True)``). ``PgStore`` and ``ReconcileStore`` each name
    their repo; the rest is this one place."""

    repo_type: type[R]
    pool: Pool
    after_commit: AfterCommit | None
    notify_merchants: bool
    on_outbox: Callable[[], None] | None

    def transaction(self) -> AbstractAsyncContextManager[R]:
        return self._applying(optimistic=False)

    def optimistic(self) -> AbstractAsyncContextManager[R]:
        return self._applying(optimistic=True)

    @asynccontextmanager
    async def _applying(self, *, optimistic: bool) -> AsyncIterator[R]:
        async with self.pool.acquire() as conn:
            repo = self.repo_type(
                conn,
                notify=self.after_commit is None,
                notify_merchants=self.notify_merchants,
                optimistic=optimistic,
            )
            if optimistic:
                async with autocommitting(repo, self.after_commit, self.on_outbox):
                    yield repo
            else:
                async with committing(conn, repo, self.after_commit, self.on_outbox):
                    yield repo


class PgStore(RepoSource[PaymentsRepo]):
    repo_type = PaymentsRepo

    def __init__(
        self,
        pool: Pool,
        *,
        after_commit: AfterCommit | None = None,
        notify_merchants: bool = True,
    ) -> None:
        """``after_commit`` None: NOTIFY in the transaction (the postgres broker);
        ``notify_merchants`` False: no MERCHANT_WEBHOOK_URLS, no outbox rows."""
        self.pool = pool
        self.after_commit = after_commit
        self.notify_merchants = notify_merchants
        # Set by whoever delivers the notifications: told after each commit that wrote one.
        self.on_outbox: Callable[[], None] | None = None

    async def add_payment(self, new: NewPayment) -> Payment | None:
        """Without merchant notifications the insert is one statement (the row, its
        timeline entry and its NOTIFY), atomic on its own: no BEGIN and COMMIT, two round
        trips fewer on every creation (make bench, create). With them the outbox row is
        a second statement, so a transaction it is."""
        if self.notify_merchants:
            async with self.transaction() as tx:
                return await tx.add_payment(new)
        async with self.pool.acquire() as conn:
            repo = PaymentsRepo(conn, notify=self.after_commit is None, notify_merchants=False)
            payment = await repo.add_payment(new)
        if self.after_commit is not None and repo.committed:
            self.after_commit(repo.committed)
        return payment

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PaymentsRepo]:
        """No transaction: each statement is atomic and sees its own snapshot, and the
        caller must not assume two statements agree. Saves BEGIN and COMMIT."""
        async with self.pool.acquire() as conn:
            repo = PaymentsRepo(conn, notify_merchants=self.notify_merchants)
            yield repo
            await repo.flush_staged()
