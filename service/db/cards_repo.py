"""SQL about saved cards: the ones a decline disabled, and whose customer a card is for.

Mixed into ``PaymentsRepo`` (like ``AttemptQueries``), so a webhook disables a card in the
same transaction that records the failed attempt.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from service.db.optimism import Optimism
from service.payments.models import Customer
from service.payments.saved_cards import DisabledCard


class CardQueries(Optimism):
    conn: asyncpg.Connection

    async def customer_by_external_id(self, external_id: str) -> Customer | None:
        row = await self.conn.fetchrow(
            """SELECT id, external_id, stripe_customer_id, email, name FROM customers
               WHERE external_id = $1""",
            external_id,
        )
        return None if row is None else Customer(**dict(row))

    async def customer_by_id(self, customer_id: UUID) -> Customer | None:
        row = await self.conn.fetchrow(
            """SELECT id, external_id, stripe_customer_id, email, name FROM customers
               WHERE id = $1""",
            customer_id,
        )
        return None if row is None else Customer(**dict(row))

    async def disabled_cards(self, customer_id: UUID) -> dict[str, DisabledCard]:
        rows = await self.conn.fetch(
            """SELECT payment_method_id, reason, disabled_at FROM disabled_cards
               WHERE customer_id = $1""",
            customer_id,
        )
        return {row["payment_method_id"]: DisabledCard(**dict(row)) for row in rows}

    async def disable_card(
        self,
        *,
        payment_method_id: str,
        customer_id: UUID,
        reason: str,
        payment_id: UUID,
        stripe_event_id: str,
    ) -> bool:
        """Remember that a decline disabled this card; False when it already was (the
        first reason is kept: it is history)."""
        self.refuse_if_optimistic("a saved card disabled")
        status = await self.conn.execute(
            """INSERT INTO disabled_cards
                   (payment_method_id, customer_id, reason, payment_id, stripe_event_id)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (payment_method_id) DO NOTHING""",
            payment_method_id,
            customer_id,
            reason,
            payment_id,
            stripe_event_id,
        )
        return bool(status.endswith(" 1"))
