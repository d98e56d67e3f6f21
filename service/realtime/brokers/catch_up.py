"""The catch-up of the Redis and NATS brokers: repairs a change committed but never
published (its process died in between) or published while this process was away.

Each round reads only the watched payments changed since a watermark (one indexed
query, at most ``limit`` rows), not every watched payment. ``updated_at`` is the
changing transaction's start, so the watermark trails the database clock by ``slack``
seconds: a transaction that commits up to ``slack`` seconds after it began is still seen.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from service.db.pool import Pool
from service.db.recent_changes import changed_since
from service.realtime.hub import Hub, Notification

log = logging.getLogger(__name__)


class WatermarkCatchUp:
    def __init__(self, pool: Pool, hub: Hub, *, slack: float = 10.0, limit: int = 1000) -> None:
        self.pool = pool
        self.hub = hub
        self.slack = slack
        self.limit = limit
        self._after: datetime | None = None

    async def run(self) -> int:
        """One round; returns the payments pushed."""
        watched = self.hub.watched()
        if not watched:
            return 0
        changes = await changed_since(
            self.pool, watched, self._after, slack=self.slack, limit=self.limit
        )
        # A full page: carry on from its last row next round (>=, so ties are kept).
        self._after = changes.last_changed_at or changes.database_now - timedelta(
            seconds=self.slack
        )
        if not changes.versions:
            return 0
        pushed = await self.hub.publish(Notification(pid, v) for pid, v in changes.versions)
        if pushed:
            log.info("catch-up pushed %d payment(s) the broker had not", pushed)
        return pushed
