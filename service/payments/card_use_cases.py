"""Saved cards: list, remove, save without paying (SetupIntent), pay with one.

Every card is looked up among the caller's own customer's cards at Stripe, so a card that
is not theirs is "not found", never someone else's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from service import errors
from service.payments.card_effects import CardEffect, card_effect
from service.payments.create_payment import CustomerInfo, ensure_customer
from service.payments.customer_view import MASKED_DECLINE_CODE
from service.payments.declines import FRAUD_CODES, Advice, advise
from service.payments.models import Customer, Payment
from service.payments.ports import GatewayCardError, PaymentGateway, PaymentStore
from service.payments.saved_cards import (
    CardGateway,
    DisabledCard,
    GatewaySetupIntent,
    SavedCard,
    same_card,
    saved_cards,
)


class CardsTx(Protocol):
    async def customer_by_external_id(self, external_id: str) -> Customer | None: ...
    async def customer_by_id(self, customer_id: UUID) -> Customer | None: ...
    async def disabled_cards(self, customer_id: UUID) -> dict[str, DisabledCard]: ...
    async def get_payment(
        self, payment_id: UUID, *, for_update: bool = False
    ) -> Payment | None: ...


class CardStore(Protocol):
    def connection(self) -> AbstractAsyncContextManager[CardsTx]: ...


def _card_not_found() -> errors.NotFound:
    return errors.NotFound("No such saved card.", code="card_not_found")


async def _stripe_customer(store: CardStore, external_id: str) -> Customer | None:
    async with store.connection() as db:
        customer = await db.customer_by_external_id(external_id)
    return customer if customer is not None and customer.stripe_customer_id else None


async def list_cards(
    external_id: str,
    *,
    store: CardStore,
    cards: CardGateway,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[SavedCard]:
    customer = await _stripe_customer(store, external_id)
    if customer is None or customer.stripe_customer_id is None:
        return []
    listed = await cards.list_payment_methods(customer.stripe_customer_id)
    async with store.connection() as db:
        disabled = await db.disabled_cards(customer.id)
    return saved_cards(listed, disabled, now())


async def remove_card(
    external_id: str, payment_method_id: str, *, store: CardStore, cards: CardGateway
) -> None:
    """Detach the card at Stripe, with every duplicate of it (it is listed once)."""
    customer = await _stripe_customer(store, external_id)
    if customer is None or customer.stripe_customer_id is None:
        raise _card_not_found()
    listed = await cards.list_payment_methods(customer.stripe_customer_id)
    ids = same_card(listed, payment_method_id)
    if not ids:
        raise _card_not_found()
    for pm in ids:
        await cards.detach_payment_method(pm, idempotency_key=f"paylive-detach-{pm}")


async def start_card_setup(
    customer: CustomerInfo,
    *,
    store: PaymentStore,
    gateway: PaymentGateway,
    cards: CardGateway,
    new_id: Callable[[], UUID] = uuid4,
) -> GatewaySetupIntent:
    """A SetupIntent for the customer's Stripe Customer (made first if need be)."""
    customer_id, stripe_id = await ensure_customer(customer, store, gateway, new_id)
    assert customer_id is not None  # a customer was given
    assert stripe_id is not None
    return await cards.create_setup_intent(
        customer=stripe_id,
        metadata={"paylive_customer_id": str(customer_id)},
        idempotency_key=f"paylive-si-{new_id()}",
    )


@dataclass(frozen=True)
class PayWithCard:
    payment_id: UUID
    payment_method: str
    off_session: bool = False
    return_url: str | None = None  # already checked against the allowed redirect origins


@dataclass(frozen=True)
class CardPaid:
    """Stripe's answer to the confirmation, and what the customer should do next."""

    payment: Payment
    status: str  # the PaymentIntent's status at Stripe
    client_secret: str | None
    next_action: Mapping[str, Any] | None
    decline_code: str | None = None
    error_code: str | None = None
    advice: Advice | None = None
    effect: CardEffect | None = None

    @property
    def customer_must_authenticate(self) -> bool:
        """Off-session, the bank asked for the customer: bring them back on-session."""
        return self.effect is not None and self.effect.action == "authenticate"


_CONFIRMABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


async def pay_with_card(
    cmd: PayWithCard,
    *,
    store: CardStore,
    gateway: PaymentGateway,
    cards: CardGateway,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CardPaid:
    async with store.connection() as db:
        payment = await db.get_payment(cmd.payment_id)
        if payment is None:
            raise errors.NotFound("No such payment.", code="payment_not_found")
        customer = await db.customer_by_id(payment.customer_id) if payment.customer_id else None
        disabled = await db.disabled_cards(customer.id) if customer else {}
    if customer is None or customer.stripe_customer_id is None:
        raise errors.Conflict(
            "This payment has no customer, so it cannot be paid with a saved card.",
            code="payment_without_customer",
        )
    intent_id = payment.stripe_payment_intent_id
    if payment.flow != "payment_intent" or intent_id is None:
        raise errors.Conflict(
            "Only a PaymentIntent payment can be paid with a saved card.",
            code="payment_not_confirmable",
        )
    listed = await cards.list_payment_methods(customer.stripe_customer_id)
    ids = same_card(listed, cmd.payment_method)
    if not ids:
        raise _card_not_found()
    shown = {c.id: c for c in saved_cards(listed, disabled, now())}
    card = next((shown[pm] for pm in ids if pm in shown), None)
    if card is not None and not card.usable:
        code = "card_disabled" if card.disabled_reason else "card_expired"
        raise errors.Conflict(
            "This saved card can no longer be used; choose another card.",
            code=code,
            details={"payment_method": cmd.payment_method},
        )
    current = await gateway.retrieve_payment_intent(intent_id)
    if current.status not in _CONFIRMABLE:
        raise errors.Conflict(
            f"The payment cannot be confirmed now (it is {current.status}).",
            code="payment_not_confirmable",
            details={"stripe_status": current.status},
        )
    try:
        intent = await cards.confirm_payment_intent(
            intent_id,
            payment_method=cmd.payment_method,
            off_session=cmd.off_session,
            return_url=cmd.return_url,
            idempotency_key=f"paylive-confirm-{payment.id}-{uuid4()}",
        )
    except GatewayCardError as exc:
        after = await gateway.retrieve_payment_intent(intent_id)
        decline = exc.decline_code or exc.stripe_code
        return CardPaid(
            payment=payment,
            status=after.status,
            client_secret=after.client_secret,
            next_action=None,
            decline_code=exc.decline_code,
            error_code=exc.stripe_code,
            advice=advise(exc.stripe_code, exc.decline_code, None),
            effect=card_effect(decline, exc.stripe_code),
        )
    action = intent.raw.get("next_action") if intent.status == "requires_action" else None
    return CardPaid(
        payment=payment,
        status=intent.status,
        client_secret=intent.client_secret,
        next_action=action if isinstance(action, Mapping) else None,
    )


def shown_decline(decline_code: str | None) -> str | None:
    """A fraud decline looks like a plain one to the customer (DESIGN §7)."""
    return MASKED_DECLINE_CODE if decline_code in FRAUD_CODES else decline_code
