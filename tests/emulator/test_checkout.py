"""Checkout Sessions and the hosted payment page, paid with plain HTTP form posts."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest
import stripe

from .conftest import Running

LINE_ITEMS = [
    {
        "price_data": {
            "currency": "usd",
            "unit_amount": 1500,
            "product_data": {"name": "Seat 12A"},
        },
        "quantity": 2,
    },
    {
        "price_data": {"currency": "usd", "unit_amount": 500, "product_data": {"name": "Meal"}},
        "quantity": 1,
    },
]


async def _session(client: stripe.StripeClient, **extra: object) -> stripe.checkout.Session:
    params: dict[str, object] = {
        "mode": "payment",
        "line_items": LINE_ITEMS,
        "success_url": "https://shop.example/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cancel",
        "metadata": {"order_id": "o-9"},
        "client_reference_id": "cart-9",
        "customer_email": "buyer@example.com",
        "payment_intent_data": {"metadata": {"order_id": "o-9"}},
        **extra,
    }
    return await client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]


async def _pay(http: aiohttp.ClientSession, url: str, card: str) -> aiohttp.ClientResponse:
    form = {"email": "buyer@example.com", "name": "Ada", "card": card, "exp": "12/34", "cvc": "123"}
    async with http.post(url, data=form, allow_redirects=False) as resp:
        await resp.read()
        return resp


async def test_create_session_and_line_items(
    client: stripe.StripeClient, emulator: Running
) -> None:
    session = await _session(client)
    assert session.id.startswith("cs_test_")
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.amount_total == 3500
    assert session.currency == "usd"
    assert session.success_url == f"https://shop.example/ok?session_id={session.id}"
    assert session.url == f"{emulator.url}/c/pay/{session.id}"
    assert session.client_reference_id == "cart-9"
    assert session.payment_intent is None  # as Stripe: made when the customer pays
    items = await client.v1.checkout.sessions.line_items.list_async(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Seat 12A", 2, 3000),
        ("Meal", 1, 500),
    ]
    again = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert again.metadata is not None
    assert again.metadata.to_dict() == {"order_id": "o-9"}
    await emulator.handle.wait_idle()
    assert emulator.receiver.types() == []


async def test_hosted_page_pay_success(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    session = await _session(client)
    assert session.url is not None
    async with http.get(session.url) as page:
        html = await page.text()
    assert page.status == 200
    assert "Seat 12A x 2: 30.00 USD" in html
    assert "Total: <strong>35.00 USD</strong>" in html
    assert "href='https://shop.example/cancel'" in html
    resp = await _pay(http, session.url, "4242424242424242")
    assert resp.status == 303
    assert resp.headers["Location"] == f"https://shop.example/ok?session_id={session.id}"
    done = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.customer_details is not None
    assert done.customer_details.email == "buyer@example.com"
    await emulator.handle.wait_idle()
    assert emulator.receiver.types() == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    completed = emulator.receiver.events[-1]["data"]["object"]
    assert completed["payment_intent"] == done.payment_intent
    assert isinstance(done.payment_intent, str)
    pi = await client.v1.payment_intents.retrieve_async(done.payment_intent)
    assert (pi.amount, pi.status) == (3500, "succeeded")
    assert pi.metadata.to_dict() == {"order_id": "o-9"}  # payment_intent_data's
    # Caused by the customer on the hosted page, not by an API request.
    assert emulator.receiver.events[-1]["request"] == {"id": None, "idempotency_key": None}
    async with http.get(session.url) as closed:
        assert closed.status == 410


async def test_hosted_page_decline_shows_error_then_pays(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    session = await _session(client)
    assert session.url is not None
    resp = await _pay(http, session.url, "4000000000009995")
    assert resp.status == 402
    still = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert still.status == "open"
    async with http.post(
        session.url, data={"card": "4242424242424241", "exp": "12/34", "cvc": "1"}
    ) as bad:
        assert "Your card number is incorrect." in await bad.text()
    ok = await _pay(http, session.url, "4242424242424242")
    assert ok.status == 303
    await emulator.handle.wait_idle()
    assert "payment_intent.payment_failed" in emulator.receiver.types()
    assert emulator.receiver.types()[-1] == "checkout.session.completed"


async def test_hosted_page_three_d_secure(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    session = await _session(client)
    assert session.url is not None
    resp = await _pay(http, session.url, "4000002760003184")
    assert resp.status == 303
    challenge = resp.headers["Location"]
    assert challenge.startswith(f"{emulator.url}/3ds/")
    async with http.get(challenge) as page:
        html = await page.text()
    secret = re.search(r"name='client_secret' value='([^']*)'", html)
    assert secret is not None
    pi_id = str((await client.v1.checkout.sessions.retrieve_async(session.id)).payment_intent)
    assert challenge == f"{emulator.url}/3ds/{pi_id}?" + challenge.split("?", 1)[1]
    async with http.post(
        f"{emulator.url}/3ds/{pi_id}/complete",
        data={"client_secret": secret.group(1)},
        allow_redirects=False,
    ) as answered:
        assert answered.status == 303
        back = answered.headers["Location"]
    assert back.startswith(f"{emulator.url}/c/pay/{session.id}/return?")
    async with http.get(back, allow_redirects=False) as returned:
        assert returned.status == 303
        assert returned.headers["Location"].startswith("https://shop.example/ok")
    done = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert done.payment_status == "paid"


async def test_async_payment_succeeded_and_failed(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    good, bad = await _session(client), await _session(client)
    assert good.url is not None
    assert bad.url is not None
    assert (await _pay(http, good.url, "4000000000008880")).status == 303
    assert (await _pay(http, bad.url, "4000000000007775")).status == 303
    pending = await client.v1.checkout.sessions.retrieve_async(good.id)
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")
    await emulator.handle.wait_idle()
    by_session: dict[str, list[str]] = {}
    for event in emulator.receiver.events:
        obj = event["data"]["object"]
        if obj["object"] == "checkout.session":
            by_session.setdefault(obj["id"], []).append(event["type"])
    assert by_session[good.id] == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]
    assert by_session[bad.id] == [
        "checkout.session.completed",
        "checkout.session.async_payment_failed",
    ]
    paid = await client.v1.checkout.sessions.retrieve_async(good.id)
    assert paid.payment_status == "paid"


async def test_expire_unpaid_session(client: stripe.StripeClient, emulator: Running) -> None:
    session = await _session(client)
    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert (expired.status, expired.url, expired.payment_intent) == ("expired", None, None)
    with pytest.raises(stripe.InvalidRequestError) as twice:
        await client.v1.checkout.sessions.expire_async(session.id)
    assert twice.value.http_status == 400
    await emulator.handle.wait_idle()
    assert emulator.receiver.types() == ["checkout.session.expired"]


async def test_expire_session_after_a_decline_cancels_its_intent(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    session = await _session(client)
    assert session.url is not None
    assert (await _pay(http, session.url, "4000000000000002")).status == 402
    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired"
    pi = await client.v1.payment_intents.retrieve_async(str(expired.payment_intent))
    assert pi.status == "canceled"
    await emulator.handle.wait_idle()
    assert emulator.receiver.types()[-2:] == ["payment_intent.canceled", "checkout.session.expired"]


async def test_session_expires_at_its_time(client: stripe.StripeClient, emulator: Running) -> None:
    session = await _session(client, expires_at=int(time.time()) + 1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        current = await client.v1.checkout.sessions.retrieve_async(session.id)
        if current.status == "expired":
            break
        await emulator.handle.wait_idle()
        await asyncio.sleep(0.1)
    assert current.status == "expired"


async def test_session_validation(client: stripe.StripeClient, emulator: Running) -> None:
    for bad in (
        {"mode": "payment"},
        {
            "mode": "payment",
            "line_items": LINE_ITEMS,
            "customer": "cus_x",
            "customer_email": "a@b.c",
        },
        {"mode": "payment", "line_items": LINE_ITEMS, "expires_at": int(time.time()) + 90_000},
        {"mode": "payment", "line_items": [{"price": "price_123", "quantity": 1}]},
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.checkout.sessions.create_async(bad)  # type: ignore[arg-type]
        assert refused.value.http_status == 400, bad


async def test_customer_on_session(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    customer = await client.v1.customers.create_async({"email": "c@example.com"})
    session = await _session(client, customer=customer.id, customer_email=None)
    assert session.customer == customer.id
    assert session.url is not None
    assert (await _pay(http, session.url, "4242424242424242")).status == 303
    session = await client.v1.checkout.sessions.retrieve_async(session.id)
    pi = await client.v1.payment_intents.retrieve_async(str(session.payment_intent))
    assert pi.customer == customer.id
    listed = await client.v1.checkout.sessions.list_async(
        {"payment_intent": str(session.payment_intent)}
    )
    assert [s.id for s in listed.data] == [session.id]


async def test_expires_at_must_be_at_least_thirty_minutes_away(
    client: stripe.StripeClient, emulator: Running
) -> None:
    emulator.handle.config.min_session_lifetime = 30 * 60
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await _session(client, expires_at=int(time.time()) + 600)
    assert refused.value.param == "expires_at"
    ok = await _session(client, expires_at=int(time.time()) + 30 * 60)
    assert ok.status == "open"


async def test_double_submitted_form_pays_once(
    client: stripe.StripeClient, emulator: Running, http: aiohttp.ClientSession
) -> None:
    session = await _session(client)
    assert session.url is not None
    answers = await asyncio.gather(*(_pay(http, session.url, "4242424242424242") for _ in range(4)))
    assert sorted(r.status for r in answers) == [303, 410, 410, 410]
    paid = await client.v1.checkout.sessions.retrieve_async(session.id)
    charges = await client.v1.charges.list_async({"payment_intent": str(paid.payment_intent)})
    assert len(charges.data) == 1
    await emulator.handle.wait_idle()
    assert emulator.receiver.types().count("checkout.session.completed") == 1
    assert emulator.receiver.types().count("payment_intent.created") == 1
