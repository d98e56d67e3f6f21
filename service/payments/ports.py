"""What the use cases need from the outside world, as protocols and plain data.

``service/stripe_gateway.py`` implements ``PaymentGateway`` over stripe-python; tests use it
against the Stripe emulator. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

# What a PaymentGateway raises: part of this contract, defined (with the code and HTTP
# status each is answered with) in service/errors.py.
from service.errors import GatewayAuthError as GatewayAuthError
from service.errors import GatewayCardError as GatewayCardError
from service.errors import GatewayError as GatewayError
from service.errors import GatewayInProgress as GatewayInProgress
from service.errors import GatewayInvalidRequest as GatewayInvalidRequest
from service.errors import GatewayUnavailable as GatewayUnavailable
from service.payments.models import (
    Attempt,
    Change,
    Customer,
    NewAttempt,
    NewPayment,
    Payment,
    Refund,
    StripeIds,
    TimelineEntry,
)


@dataclass(frozen=True)
class GatewayPaymentIntent:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None
    created: int
    amount_received: int = 0
    amount_capturable: int = 0
    capture_method: str = "automatic"
    cancellation_reason: str | None = None
    latest_charge: str | None = None
    last_payment_error: Mapping[str, Any] | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayCheckoutSession:
    id: str
    url: str
    expires_at: int
    payment_intent: str | None
    status: str
    payment_status: str
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    amount: int
    currency: str
    status: str
    payment_intent: str | None
    failure_reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineItem:
    name: str
    unit_amount: int
    quantity: int


class PaymentGateway(Protocol):
    """The Stripe calls the use cases make. Every mutating call takes an idempotency key."""

    async def create_customer(
        self, *, external_id: str, email: str | None, name: str | None, idempotency_key: str
    ) -> str:
        """Returns the Stripe customer id."""
        ...

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        description: str | None,
        metadata: Mapping[str, str],
        capture_method: str,
        payment_method_types: Sequence[str] | None,
        idempotency_key: str,
        setup_future_usage: str | None = None,
    ) -> GatewayPaymentIntent: ...

    async def retrieve_payment_intent(self, payment_intent_id: str) -> GatewayPaymentIntent: ...

    async def cancel_payment_intent(
        self, payment_intent_id: str, *, reason: str | None, idempotency_key: str
    ) -> GatewayPaymentIntent: ...

    async def create_checkout_session(
        self,
        *,
        currency: str,
        line_items: Sequence[LineItem],
        success_url: str,
        cancel_url: str,
        expires_at: int,
        customer: str | None,
        customer_email: str | None,
        client_reference_id: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> GatewayCheckoutSession: ...

    async def expire_checkout_session(
        self, session_id: str, *, idempotency_key: str
    ) -> GatewayCheckoutSession: ...

    async def retrieve_checkout_session(self, session_id: str) -> GatewayCheckoutSession: ...

    async def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        reason: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> GatewayRefund: ...

    async def list_events(
        self, *, created_after: int | None, starting_after: str | None, limit: int
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Events oldest-first after a watermark; the bool says whether more remain."""
        ...


# What an inbox row says of its event (``inbox_claim``): just stored, stored by an earlier
# try that failed, or processed already.
InboxState = Literal["new", "pending", "processed"]


class EventAlreadyStored(Exception):
    """``inbox_add``'s event was in the inbox already (a repeated delivery, or an earlier
    try that failed): the transaction that added it failed and must be rolled back."""


class ApplyUnderLock(Exception):
    """An optimistic apply (``TransactionalStore.optimistic``) cannot finish without the
    payment's lock: its row changed since it was read, or the event needs a write (or a
    read) that the one guarded statement cannot vouch for. Nothing was written: apply the
    event again in a transaction."""


class PaymentsTx(Protocol):
    """One database transaction, as the use cases see it (``service/db/payments_repo.py``)."""

    async def get_or_add_customer(
        self, new_id: UUID, external_id: str, email: str | None, name: str | None
    ) -> Customer: ...
    async def set_stripe_customer(self, customer_id: UUID, stripe_customer_id: str) -> None: ...
    async def add_payment(self, new: NewPayment) -> Payment | None: ...
    async def get_payment(
        self, payment_id: UUID, *, for_update: bool = False
    ) -> Payment | None: ...
    async def get_payment_by_stripe_id(
        self,
        *,
        payment_intent: str | None = None,
        checkout_session: str | None = None,
        for_update: bool = False,
    ) -> Payment | None: ...
    async def live_payments_for_order(
        self, order_id: str, *, for_update: bool = False
    ) -> list[Payment]: ...
    async def list_payments(
        self, order_id: str | None, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[Payment]: ...
    async def attach_stripe_ids(self, payment_id: UUID, ids: StripeIds) -> Payment: ...
    async def apply_change(self, payment: Payment, change: Change) -> Payment: ...
    async def touch_stripe_state(
        self, payment_id: UUID, at: datetime, rank: int | None
    ) -> None: ...
    async def timeline(self, payment_id: UUID, since_version: int = 0) -> list[TimelineEntry]: ...
    async def attempts(self, payment_id: UUID) -> list[Attempt]: ...
    async def current_versions(self, payment_ids: list[UUID]) -> dict[UUID, int]: ...
    async def states_since(
        self, since: dict[UUID, int]
    ) -> tuple[list[Payment], dict[UUID, list[TimelineEntry]]]: ...
    async def add_attempt(self, payment_id: UUID, attempt: NewAttempt) -> None: ...
    async def refunds(self, payment_id: UUID) -> list[Refund]: ...
    async def reserved_refund_amount(self, payment_id: UUID) -> int: ...
    async def add_refund(
        self, refund_id: UUID, payment: Payment, amount: int, reason: str | None
    ) -> Refund: ...
    async def update_refund(
        self,
        refund_id: UUID,
        *,
        stripe_refund_id: str | None,
        status: str,
        failure_reason: str | None = None,
    ) -> Refund: ...
    async def get_refund_by_stripe_id(self, stripe_refund_id: str) -> Refund | None: ...
    async def succeeded_refund_total(self, payment_id: UUID) -> int: ...
    async def get_refund(self, refund_id: UUID) -> Refund | None: ...
    async def add_external_refund(
        self,
        refund_id: UUID,
        payment: Payment,
        stripe_refund_id: str,
        amount: int,
        status: str,
        reason: str | None,
    ) -> Refund: ...
    def inbox_add(self, event: dict[str, Any], raw: str | None = None) -> None: ...
    async def inbox_claim(self, event: dict[str, Any], raw: str | None = None) -> InboxState: ...
    async def inbox_mark_processed(self, event_id: str) -> None: ...
    async def inbox_mark_unusable(self, event_id: str, why: str) -> None: ...
    async def inbox_record_failure(
        self, event: dict[str, Any], error: str, raw: str | None = None
    ) -> None: ...
    async def inbox_unprocessed(self, limit: int) -> list[dict[str, Any]]: ...
    async def charge_card(self, charge_id: str) -> dict[str, Any] | None: ...
    async def fill_attempt_card(
        self, charge_id: str, brand: str | None, last4: str | None
    ) -> int: ...
    async def disable_card(
        self,
        *,
        payment_method_id: str,
        customer_id: UUID,
        reason: str,
        payment_id: UUID,
        stripe_event_id: str,
    ) -> bool: ...


class TransactionalStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[PaymentsTx]: ...

    def optimistic(self) -> AbstractAsyncContextManager[PaymentsTx]:
        """No BEGIN, no lock: reads "for update" remember the row as read, and the one
        change (with what it takes along) is written only if that row is unchanged,
        else ``ApplyUnderLock``, as for any other write. Two round trips fewer than a
        transaction, for the events that need no more (``EventRule.optimistic``)."""
        ...


class PaymentStore(TransactionalStore, Protocol):
    def connection(self) -> AbstractAsyncContextManager[PaymentsTx]:
        """No BEGIN/COMMIT: for single statements (atomic on their own) and for reads
        that tolerate each statement seeing its own snapshot."""
        ...

    async def add_payment(self, new: NewPayment) -> Payment | None:
        """``PaymentsTx.add_payment`` committed on its own (the row, its timeline entry
        and its notifications), in as few round trips as the store can; None when the
        order already has an open or succeeded payment."""
        ...
