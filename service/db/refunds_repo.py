"""SQL about refunds (mixed into ``PaymentsRepo``, so it shares its transaction)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from service.payments.models import Payment, Refund

_REFUND_COLUMNS = """id, payment_id, stripe_refund_id, amount, currency, status, reason,
    failure_reason, created_at"""


class RefundQueries:
    conn: asyncpg.Connection

    async def refunds(self, payment_id: UUID) -> list[Refund]:
        rows = await self.conn.fetch(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at",  # noqa: S608 - constant SQL pieces only
            payment_id,
        )
        return [Refund(**dict(row)) for row in rows]

    async def reserved_refund_amount(self, payment_id: UUID) -> int:
        """Refunds not failed or canceled: they count against what is refundable."""
        value = await self.conn.fetchval(
            """SELECT coalesce(sum(amount), 0) FROM refunds
               WHERE payment_id = $1 AND status IN ('pending', 'requires_action', 'succeeded')""",
            payment_id,
        )
        return int(value)

    async def add_refund(
        self, refund_id: UUID, payment: Payment, amount: int, reason: str | None
    ) -> Refund:
        row = await self.conn.fetchrow(
            f"""INSERT INTO refunds (id, payment_id, amount, currency, reason)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_REFUND_COLUMNS}""",  # noqa: S608 - constant SQL pieces only
            refund_id,
            payment.id,
            amount,
            payment.currency,
            reason,
        )
        assert row is not None
        return Refund(**dict(row))

    async def update_refund(
        self,
        refund_id: UUID,
        *,
        stripe_refund_id: str | None,
        status: str,
        failure_reason: str | None = None,
    ) -> Refund:
        row = await self.conn.fetchrow(
            f"""UPDATE refunds SET stripe_refund_id = coalesce($2, stripe_refund_id),
                       status = $3, failure_reason = coalesce($4, failure_reason),
                       updated_at = now()
                WHERE id = $1 RETURNING {_REFUND_COLUMNS}""",  # noqa: S608 - constant SQL pieces only
            refund_id,
            stripe_refund_id,
            status,
            failure_reason,
        )
        assert row is not None
        return Refund(**dict(row))

    async def get_refund_by_stripe_id(self, stripe_refund_id: str) -> Refund | None:
        row = await self.conn.fetchrow(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE stripe_refund_id = $1 FOR UPDATE",  # noqa: S608 - constant SQL pieces only
            stripe_refund_id,
        )
        return Refund(**dict(row)) if row else None

    async def succeeded_refund_total(self, payment_id: UUID) -> int:
        value = await self.conn.fetchval(
            """SELECT coalesce(sum(amount), 0) FROM refunds
               WHERE payment_id = $1 AND status = 'succeeded'""",
            payment_id,
        )
        return int(value)

    async def get_refund(self, refund_id: UUID) -> Refund | None:
        row = await self.conn.fetchrow(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE id = $1 FOR UPDATE",  # noqa: S608 - constant SQL pieces only
            refund_id,
        )
        return Refund(**dict(row)) if row else None

    async def add_external_refund(
        self,
        refund_id: UUID,
        payment: Payment,
        stripe_refund_id: str,
        amount: int,
        status: str,
        reason: str | None,
    ) -> Refund:
        """A refund made outside paylive (e.g. the Stripe dashboard), learnt from a webhook."""
        row = await self.conn.fetchrow(
            f"""INSERT INTO refunds (id, payment_id, stripe_refund_id, amount, currency, status,
                                     reason)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_REFUND_COLUMNS}""",  # noqa: S608 - constant SQL pieces only
            refund_id,
            payment.id,
            stripe_refund_id,
            amount,
            payment.currency,
            status,
            reason,
        )
        assert row is not None
        return Refund(**dict(row))
