"""Request and response bodies of the saved-card routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.http.schemas import Strict
from service.payments.card_effects import card_effect
from service.payments.card_use_cases import CardPaid, shown_decline
from service.payments.saved_cards import SavedCard

# Stripe's PaymentMethod ids: pm_ and letters, digits or underscores.
PAYMENT_METHOD_PATTERN = r"^pm_[A-Za-z0-9_]{1,250}$"


class SavedCardOut(BaseModel):
    id: str = Field(description="The Stripe PaymentMethod id (pm_…)")
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    expired: bool = Field(description="Past its expiry month")
    disabled: bool = Field(description="A decline made it unusable; kept for history")
    disabled_reason: str | None = Field(description="The decline that disabled it")
    usable: bool = Field(description="Neither expired nor disabled: may be offered")
    created: int = Field(description="When it was saved at Stripe (Unix seconds)")


class SavedCardListOut(BaseModel):
    data: list[SavedCardOut]


class SetupIntentOut(BaseModel):
    setup_intent_id: str
    client_secret: str = Field(description="For stripe.confirmCardSetup in the browser")
    status: str


class PayWithCardIn(Strict):
    payment_method: str = Field(pattern=PAYMENT_METHOD_PATTERN, description="A saved card")
    off_session: bool = Field(
        False, description="API key only: charge without the customer (e.g. a no-show fee)"
    )
    return_url: str | None = Field(
        None,
        min_length=8,
        max_length=2048,
        description="Where the bank's 3-D Secure page sends the customer back (on an allowed "
        "redirect origin); Stripe asks for one when the payment accepts redirect-based "
        "methods. Without it, stripe.handleNextAction authenticates in the page.",
    )


class CardPaidOut(BaseModel):
    payment_id: str
    status: str = Field(description="The PaymentIntent's status at Stripe")
    client_secret: str | None = Field(
        description="With requires_action: hand it to stripe.handleNextAction"
    )
    next_action: dict[str, Any] | None
    decline_code: str | None
    next_step: str | None = Field(
        description="authenticate, fix_card_details, use_another_card, ... (after a decline)"
    )
    card_action: str | None = Field(
        description="What the decline does to the card: disable, ask_cvc, suggest_another, "
        "authenticate"
    )
    message: str | None = Field(description="What to tell the customer")


# A fraud decline disables the card but must look like a plain decline to the customer.
def _masked_reason(reason: str | None, for_customer: bool) -> str | None:
    return shown_decline(reason) if for_customer and reason else reason


def saved_card_out(card: SavedCard, *, for_customer: bool) -> SavedCardOut:
    return SavedCardOut(
        id=card.id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        expired=card.expired,
        disabled=card.disabled_reason is not None,
        disabled_reason=_masked_reason(card.disabled_reason, for_customer),
        usable=card.usable,
        created=card.created,
    )


def card_paid_out(paid: CardPaid, *, for_customer: bool) -> CardPaidOut:
    decline = _masked_reason(paid.decline_code, for_customer)
    effect = paid.effect
    if effect is not None and decline != paid.decline_code:
        # A fraud decline disables the card, but "disable" would tell a fraudster the card
        # was reported: the customer sees a plain decline's effect.
        effect = card_effect(decline)
    wants_customer = paid.status == "requires_action" or paid.customer_must_authenticate
    next_step = paid.advice.next_step if paid.advice else None
    return CardPaidOut(
        payment_id=str(paid.payment.id),
        status=paid.status,
        client_secret=paid.client_secret if wants_customer else None,
        next_action=dict(paid.next_action) if paid.next_action else None,
        decline_code=decline,
        next_step="authenticate" if wants_customer else next_step,
        card_action=effect.action if effect else None,
        message=paid.advice.customer_message if paid.advice else None,
    )
