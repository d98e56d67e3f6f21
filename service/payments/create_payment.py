"""Create (or reuse) the payment for an order: PaymentIntent or Checkout Session.

The row is written before Stripe is called, and the Stripe call's idempotency key is
derived from the row's id. A crash or timeout between the two is repaired by the next
request for the same order: it finds the open row without a Stripe id and repeats the
call with the same key, so Stripe answers with the same object instead of a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from service import errors
from service.payments.models import Change, Flow, NewPayment, Payment, PaymentUpdate, StripeIds
from service.payments.money import MoneyError, normalize_currency, validate_amount
from service.payments.ports import (
    GatewayCheckoutSession,
    GatewayError,
    GatewayInvalidRequest,
    GatewayPaymentIntent,
    LineItem,
    PaymentGateway,
    PaymentStore,
)

_RACE_RETRIES = 3


@dataclass(frozen=True)
class CustomerInfo:
    external_id: str
    email: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class CheckoutDetails:
    line_items: Sequence[LineItem]
    success_url: str
    cancel_url: str
    expires_in_minutes: int
    allowed_redirect_origins: Sequence[str]


@dataclass(frozen=True)
class CreatePayment:
    order_id: str
    amount: int
    currency: str
    customer: CustomerInfo | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    capture_method: str = "automatic"
    payment_method_types: Sequence[str] | None = None
    checkout: CheckoutDetails | None = None
    save_card: bool = False  # setup_future_usage: Stripe attaches the card once it pays

    @property
    def flow(self) -> Flow:
        return "payment_intent" if self.checkout is None else "checkout_session"


@dataclass(frozen=True)
class CreatedPayment:
    payment: Payment
    created: bool  # False: an open payment for the order was handed back


def check_money(amount: int, currency: str) -> str:
    """The currency normalised, or InvalidInput with the money rule's code (422)."""
    try:
        normalized = normalize_currency(currency)
        validate_amount(amount, normalized)
    except MoneyError as exc:
        raise errors.InvalidInput(exc.message, code=exc.code, details=dict(exc.details)) from None
    return normalized


def check_redirect(url: str, allowed: Sequence[str], name: str) -> None:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme not in ("http", "https") or origin not in allowed:
        raise errors.InvalidInput(
            f"{name} must be on one of the allowed redirect origins",
            code="redirect_not_allowed",
            details={"field": name, "origin": origin, "allowed": list(allowed)},
        )


async def create_payment(
    cmd: CreatePayment,
    *,
    store: PaymentStore,
    gateway: PaymentGateway,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    new_id: Callable[[], UUID] = uuid4,
) -> CreatedPayment:
    currency = check_money(cmd.amount, cmd.currency)
    if cmd.checkout is not None:
        check_redirect(
            cmd.checkout.success_url, cmd.checkout.allowed_redirect_origins, "success_url"
        )
        check_redirect(cmd.checkout.cancel_url, cmd.checkout.allowed_redirect_origins, "cancel_url")
    if cmd.save_card and cmd.customer is None:
        raise errors.InvalidInput(
            "Saving a card needs a customer: sign in, or name customer.external_id.",
            code="save_card_needs_customer",
            details={"field": "save_card"},
        )
    customer_id, stripe_customer = await ensure_customer(cmd.customer, store, gateway, new_id)
    payment, reused = await _claim_order(cmd, currency, customer_id, store, new_id)
    if reused and payment.stripe_payment_intent_id and payment.flow == "payment_intent":
        return CreatedPayment(payment, created=False)
    if reused and payment.stripe_checkout_session_id:
        return CreatedPayment(payment, created=False)
    try:
        if cmd.checkout is None:
            intent = await _create_intent(cmd, payment, stripe_customer, gateway)
            ids = StripeIds(stripe_payment_intent_id=intent.id, client_secret=intent.client_secret)
        else:
            session = await _create_session(cmd, payment, stripe_customer, gateway, now)
            ids = StripeIds(
                stripe_payment_intent_id=session.payment_intent or None,
                stripe_checkout_session_id=session.id,
                checkout_url=session.url,
                checkout_expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            )
    except GatewayInvalidRequest as exc:
        await _abandon(payment, exc, store)
        raise
    # Any other GatewayError keeps the row: a retry repeats the call with the same key.
    async with store.connection() as db:  # one UPDATE
        payment = await db.attach_stripe_ids(payment.id, ids)
    return CreatedPayment(payment, created=not reused)


async def ensure_customer(
    info: CustomerInfo | None,
    store: PaymentStore,
    gateway: PaymentGateway,
    new_id: Callable[[], UUID],
) -> tuple[UUID | None, str | None]:
    """Our customer row, and its Stripe customer created once per external_id."""
    if info is None:
        return None, None
    async with store.connection() as db:
        customer = await db.get_or_add_customer(new_id(), info.external_id, info.email, info.name)
    if customer.stripe_customer_id:
        return customer.id, customer.stripe_customer_id
    stripe_id = await gateway.create_customer(
        external_id=info.external_id,
        email=customer.email,
        name=customer.name,
        idempotency_key=f"paylive-customer-{customer.id}",
    )
    async with store.connection() as db:  # one UPDATE
        await db.set_stripe_customer(customer.id, stripe_id)
    return customer.id, stripe_id


async def _claim_order(
    cmd: CreatePayment,
    currency: str,
    customer_id: UUID | None,
    store: PaymentStore,
    new_id: Callable[[], UUID],
) -> tuple[Payment, bool]:
    """The order's open payment when it matches, else a new row; the order rules of §3."""
    amount = cmd.amount
    new = NewPayment(
        id=new_id(),
        order_id=cmd.order_id,
        customer_id=customer_id,
        flow=cmd.flow,
        amount=amount,
        currency=currency,
        capture_method=cmd.capture_method,
        description=cmd.description,
        metadata=dict(cmd.metadata),
    )
    # Most orders have no live payment: the insert alone settles it, as it is refused
    # while the order has an open or succeeded one (race-free). Only then is the order's
    # payment read under its lock and the rules applied (without merchant notifications
    # one round trip instead of four).
    inserted = await store.add_payment(new)
    if inserted is not None:
        return inserted, False
    for _ in range(_RACE_RETRIES):
        async with store.transaction() as tx:
            for live in await tx.live_payments_for_order(cmd.order_id, for_update=True):
                if live.status == "succeeded":
                    raise errors.Conflict(
                        "This order has already been paid.",
                        code="order_already_paid",
                        details={"order_id": cmd.order_id, "payment_id": str(live.id)},
                    )
                if (live.amount, live.currency, live.flow) != (amount, currency, cmd.flow):
                    raise errors.Conflict(
                        "This order already has an open payment with another amount, "
                        "currency or flow; cancel it first.",
                        code="order_has_open_payment",
                        details={
                            "order_id": cmd.order_id,
                            "payment_id": str(live.id),
                            "amount": live.amount,
                            "currency": live.currency,
                            "flow": live.flow,
                        },
                    )
                return live, True
            # The live payment was canceled meanwhile: insert again (the id is unused).
            payment = await tx.add_payment(new)
            if payment is not None:
                return payment, False
        # Another request inserted this order's open payment meanwhile: read it and decide.
    raise errors.Conflict(
        "The order is being changed by another request; retry.",
        code="order_busy",
        details={"order_id": cmd.order_id},
    )


def _stripe_metadata(cmd: CreatePayment, payment: Payment) -> dict[str, str]:
    return {**cmd.metadata, "paylive_payment_id": str(payment.id), "order_id": cmd.order_id}


async def _create_intent(
    cmd: CreatePayment, payment: Payment, stripe_customer: str | None, gateway: PaymentGateway
) -> GatewayPaymentIntent:
    return await gateway.create_payment_intent(
        amount=payment.amount,
        currency=payment.currency,
        customer=stripe_customer,
        description=cmd.description,
        metadata=_stripe_metadata(cmd, payment),
        capture_method=cmd.capture_method,
        payment_method_types=cmd.payment_method_types,
        idempotency_key=f"paylive-pi-{payment.id}",
        # off_session: a saved card may later be charged without the customer (a no-show fee).
        setup_future_usage="off_session" if cmd.save_card else None,
    )


async def _create_session(
    cmd: CreatePayment,
    payment: Payment,
    stripe_customer: str | None,
    gateway: PaymentGateway,
    now: Callable[[], datetime],
) -> GatewayCheckoutSession:
    assert cmd.checkout is not None
    # Expiry counts from the row's creation, so a retried call sends the same parameters.
    expires_at = int(payment.created_at.timestamp()) + cmd.checkout.expires_in_minutes * 60
    if expires_at <= int(now().timestamp()) + 60:
        raise errors.Conflict(
            "The checkout session for this order expired before it was made; "
            "cancel the payment and start again.",
            code="checkout_expired",
        )
    return await gateway.create_checkout_session(
        currency=payment.currency,
        line_items=cmd.checkout.line_items,
        success_url=cmd.checkout.success_url,
        cancel_url=cmd.checkout.cancel_url,
        expires_at=expires_at,
        customer=stripe_customer,
        customer_email=cmd.customer.email if cmd.customer and not stripe_customer else None,
        client_reference_id=cmd.order_id,
        metadata=_stripe_metadata(cmd, payment),
        idempotency_key=f"paylive-cs-{payment.id}",
    )


async def _abandon(payment: Payment, exc: GatewayError, store: PaymentStore) -> None:
    """Stripe refused the parameters: close the row so the order is not blocked by it."""
    async with store.transaction() as tx:
        current = await tx.get_payment(payment.id, for_update=True)
        if current is None or current.status in ("succeeded", "canceled"):
            return
        await tx.apply_change(
            current,
            Change(
                kind="creation_failed",
                cause_type="api",
                cause_id=exc.request_id,
                status="canceled",
                update=PaymentUpdate(cancellation_reason="creation_failed"),
                data={"stripe_code": exc.stripe_code, "message": exc.stripe_message},
            ),
        )
