"""Response bodies of the signed-in customer's routes and the Clerk webhook."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.identity.models import CustomerPayment, CustomerRecord


class MeOut(BaseModel):
    external_id: str = Field(description="The identity provider's user id (the token's sub)")
    synced: bool = Field(description="False until the provider's user record has arrived")
    email: str | None
    first_name: str | None
    last_name: str | None
    name: str | None
    deleted: bool
    created_at: datetime | None


class MyRefundOut(BaseModel):
    refund_id: str
    amount: int
    currency: str
    status: str
    created_at: datetime


class MyPaymentOut(BaseModel):
    payment_id: str
    order_id: str
    amount: int
    currency: str
    status: str
    version: int
    created_at: datetime
    paid_at: datetime | None
    amount_refunded: int
    refunds: list[MyRefundOut]


class MyPaymentListOut(BaseModel):
    data: list[MyPaymentOut]
    has_more: bool
    next_cursor: str | None


class ClerkWebhookAckOut(BaseModel):
    received: bool
    outcome: str


def me_out(external_id: str, customer: CustomerRecord | None) -> MeOut:
    if customer is None:
        return MeOut(
            external_id=external_id,
            synced=False,
            email=None,
            first_name=None,
            last_name=None,
            name=None,
            deleted=False,
            created_at=None,
        )
    return MeOut(
        external_id=customer.external_id,
        synced=customer.identity_updated_at is not None or customer.deleted_at is not None,
        email=customer.email,
        first_name=customer.first_name,
        last_name=customer.last_name,
        name=customer.name,
        deleted=customer.deleted_at is not None,
        created_at=customer.created_at,
    )


def my_payment_out(p: CustomerPayment) -> MyPaymentOut:
    return MyPaymentOut(
        payment_id=str(p.payment_id),
        order_id=p.order_id,
        amount=p.amount,
        currency=p.currency,
        status=p.status,
        version=p.version,
        created_at=p.created_at,
        paid_at=p.paid_at,
        amount_refunded=p.amount_refunded,
        refunds=[
            MyRefundOut(
                refund_id=str(r.refund_id),
                amount=r.amount,
                currency=r.currency,
                status=r.status,
                created_at=r.created_at,
            )
            for r in p.refunds
        ],
    )
