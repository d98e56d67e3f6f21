"""The emulator's Stripe.js keeps the legacy Card Element working in Chromium, for
integrations that still use it (the demo pays through the Payment Element):
``elements().create("card")``, ``confirmCardPayment`` and its 3-D Secure overlay."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.support.booking_page import booking_page, fill_card_fields


async def card_element(page: Page) -> None:
    """A Card Element mounted in a box of its own on the (loaded) booking page."""
    await page.evaluate(
        """async () => {
            const config = await (await fetch("/demo/config.json")).json();
            const box = document.createElement("div");
            box.id = "legacy-card";
            document.body.prepend(box);
            const elements = Stripe(config.publishable_key).elements();
            window.legacy = {stripe: Stripe(config.publishable_key), card: elements.create("card")};
            window.legacy.card.mount("#legacy-card");
        }"""
    )


async def confirm_started(page: Page, amount: int) -> None:
    """A PaymentIntent from the service, confirmed with confirmCardPayment; its answer
    lands in window.legacy.result."""
    await page.evaluate(
        """async (amount) => {
            const response = await fetch("/api/payment-intents", {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({order_id: `legacy-${crypto.randomUUID()}`, amount,
                                      currency: "eur"}),
            });
            const made = await response.json();
            window.legacy.result = null;
            window.legacy.stripe.confirmCardPayment(made.client_secret, {
                payment_method: {card: window.legacy.card, billing_details: {name: "Ada"}},
            }).then((result) => { window.legacy.result = result; });
        }""",
        amount,
    )


async def result(page: Page) -> dict[str, Any]:
    await page.wait_for_function("() => window.legacy.result !== null")
    answer: dict[str, Any] = await page.evaluate("() => window.legacy.result")
    return answer


async def test_card_element_pays_declines_and_authenticates(database_url: str) -> None:
    async with booking_page(database_url) as (demo, page, _watch):
        await card_element(page)
        await expect(page.locator("#legacy-card .p-PaymentElement")).to_have_count(0)

        await fill_card_fields(page.locator("#legacy-card"), "4242424242424242")
        await confirm_started(page, 1500)
        paid = await result(page)
        assert paid["paymentIntent"]["status"] == "succeeded"
        intent = demo.emulator.handle.store.get("payment_intent", paid["paymentIntent"]["id"])
        assert intent["amount"] == 1500

        await fill_card_fields(page.locator("#legacy-card"), "4000000000009995")
        await confirm_started(page, 1600)
        declined = await result(page)
        assert declined["error"]["code"] == "card_declined"
        assert declined["error"]["decline_code"] == "insufficient_funds"

        await fill_card_fields(page.locator("#legacy-card"), "4000002760003184")
        await confirm_started(page, 1700)
        challenge = page.frame_locator("[data-emulator-3ds] iframe")
        await challenge.locator("#complete").click()
        authenticated = await result(page)
        assert authenticated["paymentIntent"]["status"] == "succeeded"
