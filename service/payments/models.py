"""Domain records: what a payment, its timeline and its attempts are. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, get_args
from uuid import UUID

Flow = Literal["payment_intent", "checkout_session"]
CauseType = Literal["stripe_event", "api", "reconcile"]
# Why a payment may be canceled or refunded on request: the one rule each (the HTTP
# schemas validate with them; the refunds table's CHECK allows exactly these reasons).
CancellationReason = Literal["duplicate", "fraudulent", "requested_by_customer", "abandoned"]
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
REFUND_REASONS: Final[tuple[RefundReason, ...]] = get_args(RefundReason)


@dataclass(frozen=True)
class Customer:
    id: UUID
    external_id: str
    stripe_customer_id: str | None
    email: str | None
    name: str | None


@dataclass(frozen=True)
class Payment:
    id: UUID
    order_id: str
    customer_id: UUID | None
    flow: Flow
    amount: int
    currency: str
    status: str
    version: int
    capture_method: str
    stripe_payment_intent_id: str | None
    stripe_checkout_session_id: str | None
    client_secret: str | None
    checkout_url: str | None
    checkout_expires_at: datetime | None
    amount_capturable: int
    amount_captured: int
    amount_refunded: int
    cancellation_reason: str | None
    description: str | None
    metadata: dict[str, str]
    stripe_state_at: datetime | None
    stripe_state_rank: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def refundable(self) -> int:
        return self.amount_captured - self.amount_refunded


@dataclass(frozen=True)
class NewPayment:
    """What the API asks for; the store gives it an id and version 1."""

    id: UUID
    order_id: str
    customer_id: UUID | None
    flow: Flow
    amount: int
    currency: str
    capture_method: str
    description: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class TimelineEntry:
    payment_id: UUID
    version: int
    kind: str
    status: str
    cause_type: CauseType
    cause_id: str | None
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    id: int
    payment_id: UUID
    outcome: str
    stripe_event_id: str | None
    stripe_charge_id: str | None
    stripe_payment_method_id: str | None
    card_brand: str | None
    card_last4: str | None
    error_type: str | None
    error_code: str | None
    decline_code: str | None
    advice_code: str | None
    network_advice_code: str | None
    network_decline_code: str | None
    error_message: str | None
    advice_next_step: str | None
    advice_retryable: bool | None
    advice_message: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class Refund:
    id: UUID
    payment_id: UUID
    stripe_refund_id: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    failure_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Change:
    """One visible change to a payment: becomes a version and a timeline row."""

    kind: str
    cause_type: CauseType
    cause_id: str | None
    status: str | None = None  # None: the status stays as it is
    data: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)  # other columns to set
    stripe_state_at: datetime | None = None
    stripe_state_rank: int | None = None
