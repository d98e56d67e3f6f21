"""PaymentIntents through stripe-python's async client, as the service will use them."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import stripe

from .conftest import PUBLISHABLE_KEY, Running, auth


async def test_create_confirm_succeeds_and_emits_events(
    client: stripe.StripeClient, emulator: Running
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1099, "currency": "usd", "metadata": {"order_id": "o-1"}, "description": "d"}
    )
    assert pi.status == "requires_payment_method"
    assert pi.client_secret is not None
    assert pi.client_secret.startswith(f"{pi.id}_secret_")
    assert pi.automatic_payment_methods is not None
    assert pi.automatic_payment_methods.enabled is True
    confirmed = await client.v1.payment_intents.confirm_async(
        pi.id, {"payment_method": "pm_card_visa"}
    )
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 1099
    assert isinstance(confirmed.latest_charge, str)
    charge = await client.v1.charges.retrieve_async(confirmed.latest_charge)
    assert charge.status == "succeeded"
    assert charge.captured is True
    assert charge.payment_intent == pi.id
    await emulator.handle.wait_idle()
    types = emulator.receiver.types()
    assert types == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    succeeded = emulator.receiver.events[-1]
    assert succeeded["data"]["object"]["metadata"] == {"order_id": "o-1"}
    assert succeeded["data"]["object"]["status"] == "succeeded"
    created = emulator.receiver.events[0]
    assert created["data"]["object"]["status"] == "requires_payment_method"


async def test_create_with_confirm_true_and_payment_method_types(
    client: stripe.StripeClient,
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 500,
            "currency": "EUR",
            "allowed_payment_method_types": ["card"],
            "payment_method": "pm_card_mastercard",
            "confirm": True,
        }
    )
    assert pi.status == "succeeded"
    assert pi.currency == "eur"
    assert pi.automatic_payment_methods is None
    assert pi.payment_method_types == ["card"]
    assert pi.allowed_payment_method_types == ["card"]


async def test_expand_latest_charge_payment_method_customer(client: stripe.StripeClient) -> None:
    customer = await client.v1.customers.create_async({"email": "a@example.com"})
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 2000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "expand": ["latest_charge", "payment_method", "customer"],
        }
    )
    assert isinstance(pi.latest_charge, stripe.Charge)
    assert pi.latest_charge.amount == 2000
    assert isinstance(pi.payment_method, stripe.PaymentMethod)
    assert pi.payment_method.card is not None
    assert pi.payment_method.card.last4 == "4242"
    assert isinstance(pi.customer, stripe.Customer)
    again = await client.v1.payment_intents.retrieve_async(pi.id, {"expand": ["latest_charge"]})
    assert isinstance(again.latest_charge, stripe.Charge)
    plain = await client.v1.payment_intents.retrieve_async(pi.id)
    assert isinstance(plain.latest_charge, str)


async def test_update_and_list(client: stripe.StripeClient) -> None:
    customer = await client.v1.customers.create_async({})
    first = await client.v1.payment_intents.create_async(
        {"amount": 100, "currency": "usd", "metadata": {"a": "1", "b": "2"}}
    )
    second = await client.v1.payment_intents.create_async(
        {"amount": 200, "currency": "usd", "customer": customer.id}
    )
    updated = await client.v1.payment_intents.update_async(
        first.id, {"amount": 150, "metadata": {"a": "", "c": "3"}, "description": "x"}
    )
    assert updated.amount == 150
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    assert updated.description == "x"
    listed = await client.v1.payment_intents.list_async({"limit": 1})
    assert [p.id for p in listed.data] == [second.id]
    assert listed.has_more is True
    rest = await client.v1.payment_intents.list_async({"starting_after": second.id})
    assert [p.id for p in rest.data] == [first.id]
    assert rest.has_more is False
    mine = await client.v1.payment_intents.list_async({"customer": customer.id})
    assert [p.id for p in mine.data] == [second.id]


async def test_manual_capture_partial(client: stripe.StripeClient, emulator: Running) -> None:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 1000,
            "currency": "usd",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert pi.status == "requires_capture"
    assert pi.amount_capturable == 1000
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.payment_intents.capture_async(pi.id, {"amount_to_capture": 1001})
    assert too_much.value.code == "amount_too_large"
    captured = await client.v1.payment_intents.capture_async(pi.id, {"amount_to_capture": 600})
    assert captured.status == "succeeded"
    assert captured.amount_received == 600
    assert captured.amount_capturable == 0
    charge = await client.v1.charges.retrieve_async(str(captured.latest_charge))
    assert charge.amount_captured == 600
    assert charge.captured is True
    await emulator.handle.wait_idle()
    assert emulator.receiver.types() == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.captured",
        "payment_intent.succeeded",
    ]


async def test_cancel_with_reason_and_unexpected_state(
    client: stripe.StripeClient, emulator: Running
) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 700, "currency": "usd"})
    canceled = await client.v1.payment_intents.cancel_async(
        pi.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert isinstance(canceled.canceled_at, int)
    with pytest.raises(stripe.InvalidRequestError) as again:
        await client.v1.payment_intents.cancel_async(pi.id)
    assert again.value.code == "payment_intent_unexpected_state"
    assert again.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as confirm:
        await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": "pm_card_visa"})
    assert confirm.value.code == "payment_intent_unexpected_state"
    await emulator.handle.wait_idle()
    assert emulator.receiver.types()[-1] == "payment_intent.canceled"


async def test_cancel_authorized_releases_charge(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 900,
            "currency": "usd",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    canceled = await client.v1.payment_intents.cancel_async(pi.id)
    assert canceled.status == "canceled"
    charge = await client.v1.charges.retrieve_async(str(pi.latest_charge))
    assert charge.refunded is True


async def test_confirm_without_payment_method(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 700, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.confirm_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("10.5", "parameter_invalid_integer"),
        ("abc", "parameter_invalid_integer"),
        ("0", "parameter_invalid_integer"),
        ("-5", "parameter_invalid_integer"),
        ("49", "amount_too_small"),
    ],
)
async def test_amount_validation(
    emulator: Running, http: aiohttp.ClientSession, amount: str, code: str
) -> None:
    async with http.post(
        f"{emulator.url}/v1/payment_intents",
        data={"amount": amount, "currency": "usd"},
        headers=auth(),
    ) as resp:
        body = await resp.json()
    assert resp.status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == code
    assert body["error"]["param"] == "amount"


async def test_missing_params_and_unknown_ids(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_intents.create_async({"currency": "usd"})  # type: ignore[typeddict-item]
    assert missing.value.code == "parameter_missing"
    assert missing.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.payment_intents.retrieve_async("pi_nope")
    assert unknown.value.http_status == 404
    assert unknown.value.code == "resource_missing"
    assert unknown.value.param == "id"


async def test_publishable_key_needs_client_secret(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    url = f"{emulator.url}/v1/payment_intents/{pi.id}"
    pk = auth(PUBLISHABLE_KEY)
    async with http.get(url, headers=pk) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["param"] == "client_secret"
    async with http.get(url, params={"client_secret": str(pi.client_secret)}, headers=pk) as resp:
        assert resp.status == 200
    async with http.post(f"{url}/cancel", headers=pk) as resp:
        assert resp.status == 401
    async with http.post(
        f"{url}/confirm",
        data={"payment_method": "pm_card_visa", "client_secret": f"{pi.id}_secret_wrong"},
        headers=pk,
    ) as resp:
        assert resp.status == 400
    async with http.post(
        f"{url}/confirm",
        data={"payment_method": "pm_card_visa", "client_secret": str(pi.client_secret)},
        headers=pk,
    ) as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["status"] == "succeeded"


async def test_concurrent_confirms_succeed_once(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})

    async def confirm() -> str:
        try:
            res = await client.v1.payment_intents.confirm_async(
                pi.id, {"payment_method": "pm_card_visa"}
            )
        except stripe.InvalidRequestError as exc:
            return str(exc.code)
        return str(res.status)

    outcomes = await asyncio.gather(*(confirm() for _ in range(8)))
    assert sorted(outcomes) == ["payment_intent_unexpected_state"] * 7 + ["succeeded"]
    charges = await client.v1.charges.list_async({"payment_intent": pi.id})
    assert len(charges.data) == 1


async def test_create_with_payment_method_awaits_confirmation(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa"}
    )
    assert pi.status == "requires_confirmation"
    assert isinstance(pi.payment_method, str)
    done = await client.v1.payment_intents.confirm_async(pi.id)
    assert done.status == "succeeded"
    async with http.post(
        f"{emulator.url}/v1/payment_intents",
        data={
            "amount": "1000",
            "currency": "usd",
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4242424242424241",
            "payment_method_data[card][exp_month]": "1",
            "payment_method_data[card][exp_year]": "2035",
        },
        headers=auth(),
    ) as resp:
        assert resp.status == 402
    listed = await client.v1.payment_intents.list_async()
    assert [p.id for p in listed.data] == [pi.id]
