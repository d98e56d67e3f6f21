"""SQL about customers as identities: who they are, and their payments ("my bookings").

Payments are only read here; every change to a payment goes through ``PaymentsRepo``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from service.identity.models import CustomerPayment, CustomerRecord, CustomerRefund
from service.identity.user_sync import IdentityChange

_CUSTOMER_COLUMNS = """id, external_id, email, first_name, last_name, name, stripe_customer_id,
    identity_updated_at, deleted_at, created_at"""


def _customer(row: asyncpg.Record) -> CustomerRecord:
    return CustomerRecord(**dict(row))


class CustomersRepo:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def payment_owner(self, payment_id: UUID) -> tuple[bool, str | None]:
        """Whether the payment exists, and its customer's external_id (None: no customer)."""
        row = await self.conn.fetchrow(
            """SELECT c.external_id FROM payments p LEFT JOIN customers c ON c.id = p.customer_id
               WHERE p.id = $1""",
            payment_id,
        )
        return (False, None) if row is None else (True, row["external_id"])

    async def customer_by_external_id(
        self, external_id: str, *, for_update: bool = False
    ) -> CustomerRecord | None:
        lock = " FOR UPDATE" if for_update else ""
        sql = f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE external_id = $1{lock}"  # noqa: S608 - constant SQL pieces only
        row = await self.conn.fetchrow(sql, external_id)
        return None if row is None else _customer(row)

    async def lock_or_add_customer(self, new_id: UUID, external_id: str) -> CustomerRecord:
        """The customer row, locked for this transaction; an empty one is added first if
        there is none, so two syncs of one user always queue on the same row."""
        await self.conn.execute(
            """INSERT INTO customers (id, external_id) VALUES ($1, $2)
               ON CONFLICT (external_id) DO NOTHING""",
            new_id,
            external_id,
        )
        found = await self.customer_by_external_id(external_id, for_update=True)
        assert found is not None
        return found

    async def save_identity(self, customer_id: UUID, change: IdentityChange) -> None:
        await self.conn.execute(
            """UPDATE customers SET email = $2, first_name = $3, last_name = $4, name = $5,
                   identity_updated_at = coalesce($6, identity_updated_at),
                   deleted_at = CASE WHEN $7 THEN coalesce(deleted_at, now()) END,
                   updated_at = now()
               WHERE id = $1""",
            customer_id,
            change.email,
            change.first_name,
            change.last_name,
            change.name,
            change.identity_updated_at,
            change.deleted,
        )

    async def customer_payments(
        self, customer_id: UUID, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[CustomerPayment]:
        """Newest first, by keyset: strictly after `before` (created_at, id) in that order."""
        rows = await self.conn.fetch(
            """SELECT p.id, p.order_id, p.amount, p.currency, p.status, p.version, p.created_at,
                      p.amount_refunded,
                      (SELECT min(e.created_at) FROM payment_events e
                       WHERE e.payment_id = p.id AND e.status = 'succeeded') AS paid_at
               FROM payments p
               WHERE p.customer_id = $1
                 AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2, $3::uuid))
               ORDER BY p.created_at DESC, p.id DESC LIMIT $4""",
            customer_id,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )
        refunds = await self._refunds([row["id"] for row in rows])
        return [
            CustomerPayment(
                payment_id=row["id"],
                order_id=row["order_id"],
                amount=row["amount"],
                currency=row["currency"],
                status=row["status"],
                version=row["version"],
                created_at=row["created_at"],
                paid_at=row["paid_at"],
                amount_refunded=row["amount_refunded"],
                refunds=tuple(refunds.get(row["id"], ())),
            )
            for row in rows
        ]

    async def _refunds(self, payment_ids: list[UUID]) -> dict[UUID, list[CustomerRefund]]:
        if not payment_ids:
            return {}
        rows = await self.conn.fetch(
            """SELECT payment_id, id, amount, currency, status, created_at FROM refunds
               WHERE payment_id = ANY($1::uuid[]) ORDER BY created_at, id""",
            payment_ids,
        )
        found: dict[UUID, list[CustomerRefund]] = {}
        for row in rows:
            found.setdefault(row["payment_id"], []).append(
                CustomerRefund(
                    row["id"], row["amount"], row["currency"], row["status"], row["created_at"]
                )
            )
        return found
