"""Customers and payment methods."""

from __future__ import annotations

import pytest
import stripe


async def test_customer_crud_and_email_filter(client: stripe.StripeClient) -> None:
    a = await client.v1.customers.create_async(
        {"email": "a@example.com", "name": "A", "metadata": {"tier": "gold"}}
    )
    b = await client.v1.customers.create_async({"email": "b@example.com"})
    assert a.id.startswith("cus_")
    fetched = await client.v1.customers.retrieve_async(a.id)
    assert (fetched.email, fetched.name) == ("a@example.com", "A")
    updated = await client.v1.customers.update_async(a.id, {"name": "Ada", "metadata": {"x": "1"}})
    assert updated.name == "Ada"
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"tier": "gold", "x": "1"}
    only_b = await client.v1.customers.list_async({"email": "b@example.com"})
    assert [c.id for c in only_b.data] == [b.id]
    both = await client.v1.customers.list_async()
    assert [c.id for c in both.data] == [b.id, a.id]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.customers.retrieve_async("cus_missing")
    assert missing.value.code == "resource_missing"


async def test_payment_method_create_retrieve_attach(client: stripe.StripeClient) -> None:
    pm = await client.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": "5555555555554444", "exp_month": 4, "exp_year": 2031, "cvc": "123"},
            "billing_details": {"name": "Ada", "email": "ada@example.com"},
        }
    )
    assert pm.id.startswith("pm_")
    assert pm.card is not None
    assert (pm.card.brand, pm.card.last4, pm.card.exp_month, pm.card.exp_year) == (
        "mastercard",
        "4444",
        4,
        2031,
    )
    assert "number" not in pm.card
    assert pm.billing_details.name == "Ada"
    again = await client.v1.payment_methods.retrieve_async(pm.id)
    assert again.id == pm.id
    customer = await client.v1.customers.create_async({})
    attached = await client.v1.payment_methods.attach_async(pm.id, {"customer": customer.id})
    assert attached.customer == customer.id
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 800,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": pm.id,
            "confirm": True,
        }
    )
    assert pi.status == "succeeded"


async def test_test_payment_method_ids(client: stripe.StripeClient) -> None:
    pm = await client.v1.payment_methods.retrieve_async("pm_card_visa")
    assert pm.card is not None
    assert pm.card.last4 == "4242"
    assert pm.id.startswith("pm_")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_methods.retrieve_async("pm_unknown")
    assert missing.value.http_status == 404


async def test_expired_or_invalid_card_details(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as month:
        await client.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {"number": "4242424242424242", "exp_month": 13, "exp_year": 2030},
            }
        )
    assert month.value.code == "invalid_expiry_month"
    with pytest.raises(stripe.CardError) as year:
        await client.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2001},
            }
        )
    assert year.value.code == "invalid_expiry_year"
