"""Payments made and changed straight through the store, the way the webhook pipeline
changes them (``apply_change`` in a transaction: version, timeline and NOTIFY at commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from service.db.store import PgStore
from service.payments.models import Change, Flow, NewPayment, Payment, StripeIds
from service.payments.ports import TransactionalStore


def payment_value(**overrides: object) -> Payment:
    """A Payment value without a database (a card payment of 100.00 EUR, version 1);
    ``overrides`` replace any of its fields."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "order_id": "o",
        "customer_id": None,
        "flow": "payment_intent",
        "amount": 10_000,
        "currency": "eur",
        "status": "requires_payment_method",
        "version": 1,
        "capture_method": "automatic",
        "stripe_payment_intent_id": None,
        "stripe_checkout_session_id": None,
        "client_secret": None,
        "checkout_url": None,
        "checkout_expires_at": None,
        "amount_capturable": 0,
        "amount_captured": 0,
        "amount_refunded": 0,
        "cancellation_reason": None,
        "description": None,
        "metadata": {},
        "stripe_state_at": None,
        "stripe_state_rank": None,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    return Payment(**values)


async def add_payment(
    store: TransactionalStore,
    metadata: dict[str, str] | None = None,
    *,
    intent_id: str | None = None,
    session_id: str | None = None,
    flow: Flow = "payment_intent",
    amount: int = 2500,
    currency: str = "usd",
) -> Payment:
    """An open payment (25.00 USD unless told, version 1); with `intent_id` or
    `session_id`, those Stripe ids attached as ``create_payment`` leaves them."""
    async with store.transaction() as tx:
        payment = await tx.add_payment(
            NewPayment(
                id=uuid.uuid4(),
                order_id=f"order-{uuid.uuid4()}",
                customer_id=None,
                flow=flow,
                amount=amount,
                currency=currency,
                capture_method="automatic",
                description=None,
                metadata=metadata or {},
            )
        )
        assert payment is not None
        if intent_id is not None or session_id is not None:
            payment = await tx.attach_stripe_ids(
                payment.id,
                StripeIds(
                    stripe_payment_intent_id=intent_id, stripe_checkout_session_id=session_id
                ),
            )
    return payment


async def change(store: PgStore, payment: Payment, status: str, kind: str = "test") -> Payment:
    async with store.transaction() as tx:
        current = await tx.get_payment(payment.id, for_update=True)
        assert current is not None
        return await tx.apply_change(
            current, Change(kind=kind, cause_type="api", cause_id=None, status=status)
        )


async def new_payment(store: PgStore, *, attach: bool = True) -> tuple[Payment, str]:
    """A payment as create_payment leaves it: version 1, the PaymentIntent id attached."""
    pi_id = f"pi_{uuid.uuid4().hex[:24]}"
    return await add_payment(store, intent_id=pi_id if attach else None), pi_id
