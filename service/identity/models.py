"""What identity knows about a customer, and what a signed-in customer sees of their payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: UUID
    external_id: str  # the identity provider's user id (a session token's `sub`)
    email: str | None
    first_name: str | None
    last_name: str | None
    name: str | None
    stripe_customer_id: str | None
    identity_updated_at: int | None  # the provider's `updated_at` (ms) applied last
    deleted_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerRefund:
    refund_id: UUID
    amount: int
    currency: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerPayment:
    payment_id: UUID
    order_id: str
    amount: int
    currency: str
    status: str
    version: int
    created_at: datetime
    paid_at: datetime | None  # when it first reached `succeeded`
    amount_refunded: int
    refunds: tuple[CustomerRefund, ...]
