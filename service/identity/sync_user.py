"""Apply one Clerk webhook message: inbox row, customer change and Stripe push, together.

One transaction: the inbox row (a redelivery finds it processed and changes nothing), the
customer row locked (two messages about one user queue), the decision of ``user_sync``,
the Stripe Customer brought in line, the customer row written. If any step fails the
transaction rolls back and the caller answers 500, so Svix delivers the message again.
The Stripe call carries an idempotency key made of the message id and the values sent,
so a retried message repeats the same call rather than making a second change.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID, uuid4

from service.identity.models import CustomerRecord
from service.identity.user_sync import (
    IdentityChange,
    InvalidUserEvent,
    Outcome,
    UserEvent,
    decide,
    event_type,
    parse_user_event,
)

log = logging.getLogger(__name__)


class IdentityTx(Protocol):
    async def clerk_claim(
        self, svix_id: str, event_type: str, user_id: str | None, raw: str
    ) -> str: ...
    async def clerk_mark_processed(self, svix_id: str, outcome: str) -> None: ...
    async def lock_or_add_customer(self, new_id: UUID, external_id: str) -> CustomerRecord: ...
    async def save_identity(self, customer_id: UUID, change: IdentityChange) -> None: ...


class IdentityTransactions(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[IdentityTx]: ...


class CustomerDirectory(Protocol):
    """Where customers' contact details also live (Stripe): ``StripeGateway``."""

    async def update_customer(
        self, customer_id: str, *, email: str | None, name: str | None, idempotency_key: str
    ) -> None: ...


def user_id_of(payload: Any) -> str | None:
    data = payload.get("data") if isinstance(payload, dict) else None
    value = data.get("id") if isinstance(data, dict) else None
    return value[:200] if isinstance(value, str) else None


async def receive_clerk_message(
    svix_id: str,
    payload: Any,
    raw: str,
    *,
    store: IdentityTransactions,
    directory: CustomerDirectory,
    new_id: Callable[[], UUID] = uuid4,
) -> Outcome:
    try:
        event = parse_user_event(payload)
        invalid = None
    except InvalidUserEvent as exc:
        event, invalid = None, str(exc)
    kind = event_type(payload) or "unknown"
    async with store.transaction() as tx:
        if await tx.clerk_claim(svix_id, kind, user_id_of(payload), raw) == "processed":
            return "duplicate"
        if invalid is not None:
            log.warning("Clerk message %s cannot be applied: %s", svix_id, invalid)
            outcome: Outcome = "invalid"
        elif event is None:
            outcome = "ignored"
        else:
            outcome = await _apply(svix_id, event, tx, directory, new_id)
        await tx.clerk_mark_processed(svix_id, outcome)
    return outcome


async def _apply(
    svix_id: str,
    event: UserEvent,
    tx: IdentityTx,
    directory: CustomerDirectory,
    new_id: Callable[[], UUID],
) -> Outcome:
    customer = await tx.lock_or_add_customer(new_id(), event.user_id)
    decision = decide(customer, event)
    change = decision.change
    if change is None:
        return decision.outcome
    if change.push_to_stripe and customer.stripe_customer_id:
        await directory.update_customer(
            customer.stripe_customer_id,
            email=change.email,
            name=change.name,
            idempotency_key=_push_key(svix_id, change),
        )
    await tx.save_identity(customer.id, change)
    log.info("customer %s synced from Clerk (%s)", customer.id, event.type)
    return decision.outcome


def _push_key(svix_id: str, change: IdentityChange) -> str:
    values = f"{change.email}\x00{change.name}".encode()
    return f"paylive-clerk-{svix_id[:100]}-{hashlib.sha256(values).hexdigest()[:16]}"
