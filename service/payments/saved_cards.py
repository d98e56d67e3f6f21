"""Saved cards as the customer sees them: Stripe's cards merged with our disabled ones.

Pure: the clock is passed in, the cards come from the gateway and the disabled ones from
our table (``db/cards_repo.py``); ``card_use_cases.py`` does the fetching.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from service.payments.ports import GatewayPaymentIntent


@dataclass(frozen=True)
class GatewayCard:
    """A card PaymentMethod at Stripe."""

    id: str
    customer: str | None
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    fingerprint: str | None
    created: int


@dataclass(frozen=True)
class GatewaySetupIntent:
    id: str
    status: str
    client_secret: str | None


@dataclass(frozen=True)
class DisabledCard:
    payment_method_id: str
    reason: str  # the decline code that disabled it
    disabled_at: datetime


@dataclass(frozen=True)
class SavedCard:
    id: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    created: int
    expired: bool
    disabled_reason: str | None  # None: not disabled

    @property
    def usable(self) -> bool:
        return not self.expired and self.disabled_reason is None


def is_expired(exp_month: int | None, exp_year: int | None, now: datetime) -> bool:
    """A card works through the last day of its expiry month; unknown expiry is not expired."""
    if exp_month is None or exp_year is None:
        return False
    return (now.year, now.month) > (exp_year, exp_month)


def saved_cards(
    cards: Sequence[GatewayCard], disabled: Mapping[str, DisabledCard], now: datetime
) -> list[SavedCard]:
    """Stripe's cards, in Stripe's order (newest first), with one entry per physical card
    (fingerprint): its newest PaymentMethod, disabled when any of its copies was."""
    groups: dict[str, list[GatewayCard]] = {}
    for card in cards:
        groups.setdefault(card.fingerprint or card.id, []).append(card)
    shown = []
    for same in groups.values():
        newest = same[0]
        reason = next((disabled[c.id].reason for c in same if c.id in disabled), None)
        shown.append(
            SavedCard(
                id=newest.id,
                brand=newest.brand,
                last4=newest.last4,
                exp_month=newest.exp_month,
                exp_year=newest.exp_year,
                created=newest.created,
                expired=is_expired(newest.exp_month, newest.exp_year, now),
                disabled_reason=reason,
            )
        )
    return shown


def same_card(cards: Iterable[GatewayCard], payment_method_id: str) -> list[str]:
    """Every PaymentMethod id that is the same physical card as `payment_method_id`."""
    listed = list(cards)
    target = next((c for c in listed if c.id == payment_method_id), None)
    if target is None:
        return []
    if target.fingerprint is None:
        return [target.id]
    return [c.id for c in listed if c.fingerprint == target.fingerprint]


class CardGateway(Protocol):
    """The Stripe calls saved cards need (``service/stripe_cards.py``)."""

    async def list_payment_methods(self, customer: str) -> list[GatewayCard]: ...

    async def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> None: ...

    async def create_setup_intent(
        self, *, customer: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> GatewaySetupIntent: ...

    async def confirm_payment_intent(
        self,
        payment_intent_id: str,
        *,
        payment_method: str,
        off_session: bool,
        idempotency_key: str,
        return_url: str | None = None,
    ) -> GatewayPaymentIntent:
        """A card decline raises GatewayCardError (the intent is then retrievable)."""
        ...
