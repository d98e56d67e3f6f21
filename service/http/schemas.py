"""Request and response bodies of the JSON API; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from service.payments.models import CancellationReason, RefundReason
from service.payments.money import parse_amount

# Stripe allows 50 metadata keys; paylive adds paylive_payment_id and order_id.
MAX_METADATA_KEYS = 48
RESERVED_METADATA = ("paylive_", "order_id")


def _amount(value: object) -> int:
    return parse_amount(value)  # MoneyError is a ValueError: pydantic reports it on the field


Amount = Annotated[int, BeforeValidator(_amount)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", examples=["usd"])]
Metadata = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=40)], Annotated[str, Field(max_length=500)]],
    Field(max_length=MAX_METADATA_KEYS),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CustomerIn(Strict):
    external_id: str = Field(min_length=1, max_length=200, description="Your id for the customer")
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(None, max_length=200)


class _OrderBody(Strict):
    order_id: str = Field(
        min_length=1,
        max_length=200,
        validation_alias=AliasChoices("order_id", "booking_id"),
        description="Your booking or cart id; `booking_id` is accepted too",
    )
    currency: Currency
    customer: CustomerIn | None = None
    description: str | None = Field(None, max_length=1000)
    metadata: Metadata = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if any(key.startswith(RESERVED_METADATA) for key in value):
            raise ValueError("metadata keys starting with paylive_ or named order_id are reserved")
        return value


class CreatePaymentIntentIn(_OrderBody):
    amount: Amount = Field(
        description="Integer minor units (cents); a string of digits is accepted"
    )
    capture_method: Literal["automatic", "automatic_async", "manual"] = "automatic"
    payment_method_types: list[Annotated[str, Field(pattern=r"^[a-z_]{2,40}$")]] | None = Field(
        None, min_length=1, max_length=10
    )
    save_card: bool = Field(
        False,
        description="Save the card for later (setup_future_usage=off_session); needs a "
        "customer: a signed-in user or customer.external_id",
    )


class LineItemIn(Strict):
    name: str = Field(min_length=1, max_length=250)
    unit_amount: Amount
    quantity: int = Field(ge=1, le=999, strict=True)


class CreateCheckoutSessionIn(_OrderBody):
    line_items: list[LineItemIn] = Field(min_length=1, max_length=100)
    success_url: str = Field(min_length=8, max_length=2048)
    cancel_url: str = Field(min_length=8, max_length=2048)
    expires_in_minutes: int = Field(30, ge=30, le=1440, strict=True)


class CancelIn(Strict):
    reason: CancellationReason | None = None


class RefundIn(Strict):
    amount: Amount | None = Field(None, description="Minor units; omitted: all that is refundable")
    reason: RefundReason | None = None


class PaymentOut(BaseModel):
    payment_id: str
    order_id: str
    flow: Literal["payment_intent", "checkout_session"]
    status: str
    version: int
    amount: int
    currency: str
    amount_captured: int
    amount_refunded: int
    payment_intent_id: str | None
    checkout_session_id: str | None
    checkout_url: str | None
    cancellation_reason: str | None
    description: str | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime


class PaymentCreatedOut(BaseModel):
    payment_id: str
    payment_intent_id: str | None
    client_secret: str | None
    status: str
    amount: int
    currency: str
    version: int
    status_token: str


class CheckoutCreatedOut(BaseModel):
    payment_id: str
    checkout_session_id: str | None
    url: str | None
    expires_at: datetime | None
    status: str
    version: int
    status_token: str


class TimelineEntryOut(BaseModel):
    version: int
    kind: str
    status: str
    cause_type: str
    cause_id: str | None
    data: dict[str, object]
    at: datetime


class AttemptOut(BaseModel):
    outcome: str
    stripe_event_id: str | None
    charge_id: str | None
    payment_method_id: str | None
    card_brand: str | None
    card_last4: str | None
    error: dict[str, str | None] | None
    advice: dict[str, object] | None
    at: datetime


class RefundOut(BaseModel):
    refund_id: str
    stripe_refund_id: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    failure_reason: str | None
    created_at: datetime


class RefundCreatedOut(BaseModel):
    refund: RefundOut
    payment: PaymentOut


class PaymentListOut(BaseModel):
    data: list[PaymentOut]
    has_more: bool
    next_cursor: str | None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, object]


class ErrorOut(BaseModel):
    error: ErrorBody
