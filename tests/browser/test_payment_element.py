"""The booking page pays through Stripe's Payment Element: "Pay by card" makes the
booking's PaymentIntent and mounts the element for its client secret, confirmPayment pays
it, the element's own validation speaks for an unfinished card, and a reload mounts the
element again for the same PaymentIntent."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.booking_page import (
    booking_page,
    fill_card,
    open_booking,
    pay_by_card,
    pick,
    until_status,
)
from tests.support.browser import assert_accessible


async def test_the_payment_element_is_mounted_for_the_bookings_payment_intent(
    database_url: str,
) -> None:
    async with booking_page(database_url) as (demo, page, _watch):
        await pick(page, "C3", "C4")
        element = page.get_by_test_id("payment-element")
        await expect(element).to_be_hidden()
        await expect(page.get_by_test_id("pay-card")).to_be_hidden()
        await expect(page.get_by_test_id("card-start")).to_have_text("Pay €72.00 by card")
        await page.get_by_test_id("card-start").click()

        # The element is Stripe's Payment Element, for this booking's PaymentIntent; the
        # keyboard is in it, and the seats are held for the payment.
        await expect(element.locator(".p-PaymentElement")).to_have_count(1)
        await expect(element.locator('input[name="cardnumber"]')).to_be_focused()
        await expect(page.get_by_test_id("seat-C5")).to_be_disabled()
        await expect(page.get_by_test_id("pay-card")).to_have_text("Pay €72.00")
        secret = await page.evaluate("() => window.paylive.booking.payment.client_secret")
        assert await page.evaluate("() => window.paylive.card.elements._clientSecret") == secret
        intent = demo.emulator.handle.store.get("payment_intent", secret.split("_secret_")[0])
        assert (intent["amount"], intent["status"]) == (7200, "requires_payment_method")
        await assert_accessible(page, "Payment Element mounted")

        # An unfinished card: the element's own words, and nothing reaches Stripe.
        await element.locator('input[name="cardnumber"]').fill("4242 4242")
        await page.get_by_test_id("pay-card").click()
        await expect(page.get_by_test_id("card-error")).to_have_text(
            "Your card number is incomplete."
        )
        assert intent["status"] == "requires_payment_method"
        await expect(page.get_by_test_id("attempt")).to_have_count(0)

        # A reload: the same PaymentIntent, its element mounted again; no second payment.
        payment_id = await page.evaluate("() => window.paylive.booking.payment.payment_id")
        await page.reload()
        await open_booking(page, demo)
        await expect(page.get_by_test_id("card-start")).to_be_hidden()
        await expect(element.locator(".p-PaymentElement")).to_have_count(1)
        await fill_card(page, "4242424242424242")
        await page.get_by_test_id("card-name").fill("Ada Lovelace")
        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("live-payment-id")).to_have_text(payment_id)
        assert intent["status"] == "succeeded"
        method = demo.emulator.handle.store.get("payment_method", intent["payment_method"])
        assert method["billing_details"]["name"] == "Ada Lovelace"
