"""Saved cards in real Chromium: under My bookings a signed-in customer sees their saved
cards (an expired one shown, not offered), pays an unpaid booking in one click with a saved
card that is declined, is offered the other saved card and a new card, pays with the other,
and the declined (lost) card is then shown disabled."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
from playwright.async_api import Page, expect

from tests.support.browser import Demo, chromium, new_page, screenshot
from tests.support.clerk import demo_with_sign_in
from tests.support.settings import TEST_API_KEY
from tests.support.webhooks import emulator_call

LOST = "4000000000009987"
VISA = "4242424242424242"


async def sign_in(page: Page, demo: Demo, email: str) -> str:
    """Sign in at the Clerk stand-in; the user's id."""
    await page.goto(demo.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await page.get_by_test_id("sign-in").click()
    await page.get_by_test_id("sign-in-email").fill(email)
    await page.get_by_test_id("sign-in-first-name").fill("Saved")
    await page.get_by_test_id("sign-in-last-name").fill("Cards")
    await page.get_by_test_id("sign-in-submit").click()
    await page.wait_for_url(demo.url + "/")
    await expect(page.get_by_test_id("signed-in-as")).to_have_text(email)
    me: dict[str, Any] = await page.evaluate("fetch('/api/me').then((r) => r.json())")
    return str(me["external_id"])


async def unpaid_booking(demo: Demo, user: str) -> str:
    """The merchant's backend opens a booking for the customer (API key); its Stripe
    Customer id."""
    body = {
        "order_id": f"order-{uuid.uuid4()}",
        "amount": 4200,
        "currency": "eur",
        "customer": {"external_id": user},
    }
    headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{demo.url}/api/payment-intents", json=body, headers=headers) as response,
    ):
        assert response.status == 201, await response.text()
    [customer] = [
        c
        for c in demo.emulator.handle.store.newest_first("customer")
        if c["metadata"].get("external_id") == user
    ]
    return str(customer["id"])


async def save(demo: Demo, customer: str, number: str) -> str:
    """A card saved earlier (as a payment with save_card or a SetupIntent would)."""
    emulator = demo.emulator
    form = {"type": "card", "card[number]": number, "card[exp_month]": "12"}
    form["card[exp_year]"] = "2034"
    _, pm = await emulator_call(emulator.url, emulator.secret_key, "POST", "payment_methods", form)
    path = f"payment_methods/{pm['id']}/attach"
    status, _ = await emulator_call(
        emulator.url, emulator.secret_key, "POST", path, {"customer": customer}
    )
    assert status == 200
    return str(pm["id"])


async def test_pay_with_a_saved_card_after_a_decline_on_another(database_url: str) -> None:
    async with demo_with_sign_in(database_url) as (demo, _clerk), chromium() as browser:
        page, watch = await new_page(browser)
        user = await sign_in(page, demo, "saver@example.com")
        customer = await unpaid_booking(demo, user)
        expired = await save(demo, customer, "5555555555554444")
        demo.emulator.handle.store.get("payment_method", expired)["card"]["exp_year"] = 2020
        lost = await save(demo, customer, LOST)
        good = await save(demo, customer, VISA)

        await page.goto(demo.url + "/bookings")
        box = page.get_by_test_id("saved-cards-box")
        await expect(box).to_have_attribute("data-ready", "true")
        await expect(page.get_by_test_id("saved-card")).to_have_count(3)
        old = page.locator(f'[data-testid="saved-card"][data-card-id="{expired}"]')
        await expect(old).to_have_attribute("data-usable", "false")
        await expect(old.get_by_test_id("card-expired")).to_be_visible()
        booking = page.get_by_test_id("booking")
        offers = booking.get_by_test_id("pay-with-card")
        await expect(offers).to_have_count(2)  # the expired card is not offered
        await screenshot(page, "saved-cards")

        await booking.locator(f'[data-testid="pay-with-card"][data-card-id="{lost}"]').click()
        await expect(booking.get_by_test_id("pay-saved-note")).to_contain_text("declined")
        await expect(offers).to_have_count(1)
        await expect(offers).to_have_attribute("data-card-id", good)
        await expect(booking.get_by_test_id("pay-new-card")).to_be_visible()
        await screenshot(page, "saved-cards-declined")

        await offers.click()
        await expect(booking.get_by_test_id("paid-mark")).to_have_text("Paid ✓")
        await expect(booking).to_have_attribute("data-status", "succeeded")

        await page.reload()
        await expect(box).to_have_attribute("data-ready", "true")
        disabled = page.locator(f'[data-testid="saved-card"][data-card-id="{lost}"]')
        await expect(disabled.get_by_test_id("card-disabled")).to_be_visible()
        await expect(disabled).to_have_attribute("data-usable", "false")
        await expect(page.get_by_test_id("pay-with-card")).to_have_count(0)  # all paid
        await page.context.close()
    assert watch.errors == [], watch.errors
