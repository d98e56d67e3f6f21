"""The default broker: PostgreSQL's LISTEN/NOTIFY (``PgListener``). The NOTIFY is part
of the change's transaction, so there is nothing to publish after commit, and every
process hears every change, so there is nothing to (un)subscribe."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from service.db.store import Committed
from service.realtime.listener import PgListener


class PostgresBroker(PgListener):
    def publish(self, committed: Sequence[Committed]) -> None:
        """Never called: the store NOTIFYs inside the transaction with this broker."""

    async def watch(self, payment_id: UUID) -> None:
        """LISTEN hears every payment."""

    def unwatch(self, payment_id: UUID) -> None:
        """LISTEN hears every payment."""
