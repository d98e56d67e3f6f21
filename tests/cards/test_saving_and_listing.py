"""Saving a card (a payment with save_card, a SetupIntent), listing and removing saved cards,
through the API and the Stripe emulator."""

from __future__ import annotations

from tests.cards.conftest import (
    deliver_all,
    fresh_user,
    my_cards,
    pay_as,
    save_card,
    session,
    stripe,
    stripe_customer,
)
from tests.support.api import API, Client, confirm_intent
from tests.support.emulator import RunningEmulator


async def test_save_card_needs_a_customer(api: Client) -> None:
    body = {"order_id": "order-no-customer", "amount": 2500, "currency": "usd", "save_card": True}
    response = await api.post("/api/payment-intents", json=body, headers=API)
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["details"]["field"]) == ("save_card_needs_customer", "save_card")


async def test_a_paid_payment_with_save_card_saves_the_card(
    api: Client, emulator: RunningEmulator
) -> None:
    user = fresh_user()
    made = await pay_as(api, user, save_card=True)
    pi = emulator.handle.store.get("payment_intent", made["payment_intent_id"])
    assert pi["setup_future_usage"] == "off_session"
    assert pi["customer"] is not None
    assert await my_cards(api, user) == []  # nothing saved before it pays
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_mastercard")
    [card] = await my_cards(api, user)
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"]) == (
        "mastercard",
        "4444",
        12,
        2034,
    )
    assert (card["expired"], card["disabled"], card["usable"]) == (False, False, True)
    assert card["id"].startswith("pm_")
    assert card["created"] > 0
    # The same list for the merchant's backend, by the customer's external id.
    response = await api.get(f"/api/customers/{user}/payment-methods", headers=API)
    assert response.status == 200
    assert (await response.json())["data"] == [card]


async def test_a_payment_without_save_card_saves_nothing(
    api: Client, emulator: RunningEmulator
) -> None:
    user = fresh_user()
    made = await pay_as(api, user)
    pi = emulator.handle.store.get("payment_intent", made["payment_intent_id"])
    assert pi["setup_future_usage"] is None
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
    assert await my_cards(api, user) == []


async def test_a_setup_intent_saves_a_card_without_paying(
    api: Client, emulator: RunningEmulator
) -> None:
    user = fresh_user()
    response = await api.post("/api/me/setup-intents", headers=session(user))
    assert response.status == 201
    body = await response.json()
    assert body["client_secret"].startswith(body["setup_intent_id"] + "_secret_")
    si = emulator.handle.store.get("setup_intent", body["setup_intent_id"])
    assert si["usage"] == "off_session"
    await stripe(
        emulator,
        "POST",
        f"setup_intents/{body['setup_intent_id']}/confirm",
        {"payment_method": "pm_card_visa"},
    )
    [card] = await my_cards(api, user)
    assert (card["brand"], card["last4"]) == ("visa", "4242")
    # A second SetupIntent reuses the user's one Stripe Customer.
    again = await api.post("/api/me/setup-intents", headers=session(user))
    second = emulator.handle.store.get("setup_intent", (await again.json())["setup_intent_id"])
    assert second["customer"] == si["customer"]


async def test_duplicates_are_listed_once_and_removed_together(
    api: Client, emulator: RunningEmulator
) -> None:
    user = fresh_user()
    cus = await stripe_customer(api, emulator, user)
    first = await save_card(emulator, cus)
    second = await save_card(emulator, cus)  # the same card number again
    other = await save_card(emulator, cus, "5555555555554444")
    listed = await my_cards(api, user)
    assert [c["id"] for c in listed] == [other, second]
    response = await api.delete(f"/api/me/payment-methods/{first}", headers=session(user))
    assert response.status == 204
    assert [c["id"] for c in await my_cards(api, user)] == [other]
    for pm in (first, second):
        assert emulator.handle.store.get("payment_method", pm)["customer"] is None


async def test_someone_elses_card_is_not_found(api: Client, emulator: RunningEmulator) -> None:
    owner, intruder = fresh_user(), fresh_user()
    pm = await save_card(emulator, await stripe_customer(api, emulator, owner))
    await stripe_customer(api, emulator, intruder)
    for user in (intruder, fresh_user()):  # with and without a Stripe Customer
        response = await api.delete(f"/api/me/payment-methods/{pm}", headers=session(user))
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "card_not_found"
    response = await api.delete("/api/me/payment-methods/not-a-card", headers=session(owner))
    assert response.status == 404
    assert emulator.handle.store.get("payment_method", pm)["customer"] is not None
    assert [c["id"] for c in await my_cards(api, owner)] == [pm]


async def test_an_expired_card_is_listed_not_usable(api: Client, emulator: RunningEmulator) -> None:
    user = fresh_user()
    pm = await save_card(emulator, await stripe_customer(api, emulator, user))
    emulator.handle.store.get("payment_method", pm)["card"]["exp_year"] = 2020  # it aged
    [card] = await my_cards(api, user)
    assert (card["expired"], card["disabled"], card["usable"]) == (True, False, False)


async def test_credentials_are_required(api: Client, emulator: RunningEmulator) -> None:
    assert (await api.get("/api/me/payment-methods")).status == 401
    assert (await api.post("/api/me/setup-intents")).status == 401
    assert (await api.delete("/api/me/payment-methods/pm_x")).status == 401
    response = await api.get("/api/customers/someone/payment-methods")
    assert response.status == 401
    # A session token is not an API key for another customer's list.
    response = await api.get("/api/customers/someone/payment-methods", headers=session("u"))
    assert response.status == 401
    unknown = await api.get(f"/api/customers/{fresh_user()}/payment-methods", headers=API)
    assert (await unknown.json())["data"] == []
    await deliver_all(api, emulator)  # the emulator's events are all acceptable webhooks
