"""The brokers' catch-up query: which of these payments changed since a watermark.

Bounded by what changed, not by what is watched: the ``payments_updated_at`` index
(sql/006) lets PostgreSQL read only the rows changed since the watermark, at most
``limit`` of them per round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from service.db.pool import Pool


@dataclass(frozen=True)
class RecentChanges:
    versions: list[tuple[UUID, int]]  # oldest change first
    last_changed_at: datetime | None  # of the last row, when the limit cut the answer
    database_now: datetime


async def changed_since(
    pool: Pool, payment_ids: Sequence[UUID], after: datetime | None, *, slack: float, limit: int
) -> RecentChanges:
    """Those of ``payment_ids`` changed at or after ``after`` (None: ``slack`` seconds ago)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT id, version, updated_at, now() AS database_now FROM payments
               WHERE updated_at >= coalesce($2, now() - make_interval(secs => $3))
                 AND id = ANY($1::uuid[])
               ORDER BY updated_at LIMIT $4""",
            list(payment_ids),
            after,
            slack,
            limit,
        )
        now = rows[0]["database_now"] if rows else await conn.fetchval("SELECT now()")
    return RecentChanges(
        versions=[(row["id"], row["version"]) for row in rows],
        last_changed_at=rows[-1]["updated_at"] if len(rows) >= limit else None,
        database_now=now,
    )
