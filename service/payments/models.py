"""Domain records: what a payment, its timeline and its attempts are. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal, get_args
from uuid import UUID

Flow = Literal["payment_intent", "checkout_session"]
CauseType = Literal["stripe_event", "api", "reconcile"]
AttemptOutcome = Literal["succeeded", "failed", "requires_action", "processing", "canceled"]
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


@dataclass(frozen=True, slots=True)
class StripeIds:
    """What Stripe answered at creation, recorded without a version (None: not given)."""

    stripe_payment_intent_id: str | None = None
    stripe_checkout_session_id: str | None = None
    client_secret: str | None = None
    checkout_url: str | None = None
    checkout_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PaymentUpdate:
    """The payment's values a change sets besides its status; None leaves one as it is."""

    stripe_payment_intent_id: str | None = None
    amount_capturable: int | None = None
    amount_captured: int | None = None
    amount_refunded: int | None = None
    cancellation_reason: str | None = None

    def changes(self, payment: Payment) -> bool:
        """Whether applying this to `payment` would change any of its values."""
        return not (
            self.stripe_payment_intent_id in (None, payment.stripe_payment_intent_id)
            and self.amount_capturable in (None, payment.amount_capturable)
            and self.amount_captured in (None, payment.amount_captured)
            and self.amount_refunded in (None, payment.amount_refunded)
            and self.cancellation_reason in (None, payment.cancellation_reason)
        )


NO_UPDATE: Final = PaymentUpdate()


@dataclass(frozen=True, slots=True)
class Change:
    """One visible change to a payment: becomes a version and a timeline row."""

    kind: str
    cause_type: CauseType
    cause_id: str | None
    status: str | None = None  # None: the status stays as it is
    data: dict[str, Any] = field(default_factory=dict)
    update: PaymentUpdate = NO_UPDATE
    stripe_state_at: datetime | None = None
    stripe_state_rank: int | None = None

    def applied_to(self, payment: Payment, at: datetime) -> Payment:
        """The payment after this change, made at ``at``: the next version, each value
        the change carries set, the rest as they were. The database stores exactly this,
        but for ``updated_at``, which it stamps with its own clock."""
        u = self.update

        def pick(new: Any, old: Any) -> Any:
            return old if new is None else new

        return replace(
            payment,
            version=payment.version + 1,
            status=pick(self.status, payment.status),
            stripe_state_at=pick(self.stripe_state_at, payment.stripe_state_at),
            stripe_state_rank=pick(self.stripe_state_rank, payment.stripe_state_rank),
            stripe_payment_intent_id=pick(
                u.stripe_payment_intent_id, payment.stripe_payment_intent_id
            ),
            amount_capturable=pick(u.amount_capturable, payment.amount_capturable),
            amount_captured=pick(u.amount_captured, payment.amount_captured),
            amount_refunded=pick(u.amount_refunded, payment.amount_refunded),
            cancellation_reason=pick(u.cancellation_reason, payment.cancellation_reason),
            updated_at=at,
        )


@dataclass(frozen=True, slots=True)
class NewAttempt:
    """One confirmation attempt learnt from a PaymentIntent event (``attempts.py``)."""

    outcome: AttemptOutcome
    stripe_event_id: str
    occurred_at: datetime
    stripe_charge_id: str | None = None
    stripe_payment_method_id: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    network_advice_code: str | None = None
    network_decline_code: str | None = None
    error_message: str | None = None
    last_payment_error: dict[str, Any] | None = None  # the whole error, card data removed
    advice_next_step: str | None = None
    advice_retryable: bool | None = None
    advice_message: str | None = None
