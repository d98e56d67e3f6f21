"""Refunds and charges: full, partial, over-refund, asynchronous refund failure."""

from __future__ import annotations

import pytest
import stripe

from .conftest import Running


async def _paid(
    client: stripe.StripeClient, amount: int = 1000, pm: str = "pm_card_visa"
) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        {"amount": amount, "currency": "usd", "payment_method": pm, "confirm": True}
    )


async def test_full_refund_by_payment_intent(
    client: stripe.StripeClient, emulator: Running
) -> None:
    pi = await _paid(client)
    refund = await client.v1.refunds.create_async(
        {"payment_intent": pi.id, "reason": "requested_by_customer", "metadata": {"k": "v"}}
    )
    assert refund.amount == 1000
    assert refund.status == "succeeded"
    assert refund.charge == pi.latest_charge
    assert refund.payment_intent == pi.id
    assert refund.reason == "requested_by_customer"
    charge = await client.v1.charges.retrieve_async(str(pi.latest_charge))
    assert charge.amount_refunded == 1000
    assert charge.refunded is True
    with pytest.raises(stripe.InvalidRequestError) as again:
        await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert again.value.code == "charge_already_refunded"
    await emulator.handle.wait_idle()
    assert emulator.receiver.types()[-2:] == ["refund.created", "charge.refunded"]
    assert emulator.receiver.events[-1]["data"]["object"]["amount_refunded"] == 1000


async def test_partial_refunds_and_over_refund(client: stripe.StripeClient) -> None:
    pi = await _paid(client, 1000)
    first = await client.v1.refunds.create_async({"charge": str(pi.latest_charge), "amount": 300})
    assert first.amount == 300
    with pytest.raises(stripe.InvalidRequestError) as over:
        await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 701})
    assert over.value.http_status == 400
    assert over.value.param == "amount"
    assert str(over.value.user_message) == (
        "Refund amount ($7.01) is greater than unrefunded amount on charge ($7.00)"
    )
    rest = await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert rest.amount == 700
    charge = await client.v1.charges.retrieve_async(str(pi.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (1000, True)
    listed = await client.v1.refunds.list_async({"payment_intent": pi.id})
    assert [r.id for r in listed.data] == [rest.id, first.id]
    fetched = await client.v1.refunds.retrieve_async(first.id)
    assert fetched.amount == 300


async def test_refund_of_unpaid_intent_refused(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": pi.id})
    with pytest.raises(stripe.InvalidRequestError) as neither:
        await client.v1.refunds.create_async({})
    assert neither.value.code == "parameter_missing"


async def test_refund_fail_card(client: stripe.StripeClient, emulator: Running) -> None:
    pi = await _paid(client, 1000, "pm_card_refundFail")
    refund = await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert refund.status == "succeeded"
    await emulator.handle.wait_idle()
    failed = await client.v1.refunds.retrieve_async(refund.id)
    assert failed.status == "failed"
    assert failed.failure_reason == "expired_or_canceled_card"
    charge = await client.v1.charges.retrieve_async(str(pi.latest_charge))
    assert charge.amount_refunded == 0
    assert emulator.receiver.types()[-2:] == ["refund.updated", "refund.failed"]


async def test_charges_list_by_payment_intent(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.CardError):
        await client.v1.payment_intents.confirm_async(
            pi.id, {"payment_method": "pm_card_chargeDeclined"}
        )
    await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": "pm_card_visa"})
    await _paid(client)
    charges = await client.v1.charges.list_async({"payment_intent": pi.id})
    assert [c.status for c in charges.data] == ["succeeded", "failed"]
