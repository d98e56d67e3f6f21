"""The booking page in real headless Chromium, against the real service and the emulator.

Each test books seats and pays: by card on the page (the emulator's Stripe.js Payment
Element and confirmPayment, its 3-D Secure overlay) or on the hosted Checkout page and
back. The live panel's status and version come only from paylive.js; the tests read them
from the panel's data attributes and its rendered attempts and timeline.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from service.payments.declines import advise
from tests.support.booking_page import (
    PANEL,
    attempts,
    booking_page,
    pay_by_card,
    pick,
    start_three_d_secure,
    subscribes,
    timeline_versions,
    until_status,
    version,
)
from tests.support.browser import assert_accessible, screenshot


async def test_pay_by_card(database_url: str) -> None:
    async with booking_page(database_url) as (_demo, page, watch):
        await pick(page, "C5", "C6", "A1")
        # Price from the seats: two stalls seats at 36.00 and one front seat at 48.00.
        await expect(page.get_by_test_id("total")).to_have_attribute("data-amount", "12000")
        await expect(page.get_by_test_id("total")).to_have_text("€120.00")
        order_id = await page.get_by_test_id("order-id").text_content()
        assert order_id
        assert order_id.startswith("booking-")

        await assert_accessible(page, "seats picked")
        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "paid")
        await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        # The confirmation takes the focus (not <body>) and is on screen.
        await expect(page.get_by_test_id("result")).to_be_focused()
        await expect(page.get_by_test_id("result")).to_be_in_viewport()
        await assert_accessible(page, "paid")
        await expect(page.get_by_test_id("attempt")).to_have_count(1)
        assert [a["outcome"] for a in await attempts(page)] == ["succeeded"]
        await expect(page.get_by_test_id("live-amount")).to_have_text("€120.00")
        # Paid seats are held: the map no longer lets them change.
        await expect(page.get_by_test_id("seat-C5")).to_be_disabled()
        held = await version(page)
        assert held >= 2  # created, then at least the success
        assert await timeline_versions(page) == list(range(1, held + 1))
        await screenshot(page, "card-succeeded")

        # A late or repeated message (an older version) changes nothing the page holds:
        # fed to paylive.js as if its WebSocket had received it.
        await page.evaluate(
            """() => {
                const follow = window.paylive.live;
                const id = follow.watch.paymentId;
                const stale = {...follow.state.payment, status: "canceled", version: 1};
                const frame = {type: "update", payment_id: id, payment: stale, timeline: [],
                               attempt: null};
                follow.client._receive({...frame, version: 1});
                follow.client._receive({...frame, version: follow.state.version});
            }"""
        )
        await until_status(page, "succeeded")
        assert await version(page) == held
        assert len(subscribes(watch)) == 1
        assert subscribes(watch)[0]["since_version"] == 0

        # The paid booking is done: a new one gets a new order id, and nothing of the
        # previous payment stays in the live panel.
        await page.get_by_test_id("book-again").click()
        await expect(page.get_by_test_id("order-id")).not_to_have_text(order_id)
        for field in ("live-amount", "live-flow", "live-version", "live-payment-id"):
            await expect(page.get_by_test_id(field)).to_have_text("—")
        await expect(page.get_by_test_id("live-status")).to_have_text("No payment yet")
        await expect(page.get_by_test_id("attempt")).to_have_count(0)
        await expect(page.get_by_test_id("seat-C5")).to_be_disabled()  # sold now
        await expect(page.get_by_test_id("seat-C7")).to_be_enabled()


async def test_generic_decline_then_success(database_url: str) -> None:
    async with booking_page(database_url) as (_demo, page, _watch):
        await pick(page, "D2")
        await pay_by_card(page, "4000000000000002")
        await expect(page.get_by_test_id("card-error")).to_have_text("Your card was declined.")
        await expect(page.get_by_test_id("attempt")).to_have_count(1)
        await until_status(page, "requires_payment_method")
        [declined] = await attempts(page)
        assert declined["outcome"] == "failed"
        assert "generic_decline" in (declined["error"] or "")
        assert declined["next_step"] == "use_another_card"
        await assert_accessible(page, "declined")
        # The seats stay held for the payment in progress.
        await expect(page.get_by_test_id("seat-D3")).to_be_disabled()
        await screenshot(page, "card-declined")
        payment_id = await page.get_by_test_id("live-payment-id").text_content()

        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("attempt")).to_have_count(2)
        listed = await attempts(page)
        assert [a["outcome"] for a in listed] == ["failed", "succeeded"]
        assert listed[0]["next_step"] == "use_another_card"
        assert listed[0]["retryable"] is False
        # One order, one payment: the retry confirmed the same PaymentIntent.
        await expect(page.get_by_test_id("live-payment-id")).to_have_text(payment_id or "")
        await screenshot(page, "card-declined-then-succeeded")


async def test_insufficient_funds(database_url: str) -> None:
    expected = advise("card_declined", "insufficient_funds", "try_again_later")
    async with booking_page(database_url) as (_demo, page, _watch):
        await pick(page, "E4", "E5")
        await pay_by_card(page, "4000000000009995")
        # The customer-safe words of the service's decision table, which agree with the
        # next step: no "try again later" after insufficient funds.
        await expect(page.get_by_test_id("card-error")).to_have_text(expected.customer_message)
        await expect(page.get_by_test_id("attempt")).to_have_count(1)
        [attempt] = await attempts(page)
        assert attempt["outcome"] == "failed"
        assert "insufficient_funds" in (attempt["error"] or "")
        assert (attempt["next_step"], attempt["retryable"]) == ("use_another_card", False)
        assert expected.customer_message in (attempt["advice"] or "")
        panel_text = await page.get_by_test_id("live-panel").inner_text()
        assert "try again" not in panel_text.lower()
        assert "retrying can help" not in panel_text
        await until_status(page, "requires_payment_method")
        await expect(page.get_by_test_id("result")).to_be_hidden()
        await expect(page.get_by_test_id("pay-card")).to_be_enabled()
        await screenshot(page, "card-insufficient-funds")


async def test_three_d_secure_completed(database_url: str) -> None:
    async with booking_page(database_url) as (_demo, page, _watch):
        challenge = await start_three_d_secure(page, "B2")
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "action")
        await expect(page.get_by_test_id("attempt")).to_have_count(1)
        [pending] = await attempts(page)
        assert pending["outcome"] == "requires_action"
        assert "retry" not in (pending["advice"] or "").lower()  # authenticate, not retry
        await assert_accessible(page, "3-D Secure challenge")
        await screenshot(page, "3ds-challenge")
        await challenge.locator("#complete").click()
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("attempt")).to_have_count(2)
        listed = await attempts(page)
        assert [a["outcome"] for a in listed] == ["requires_action", "succeeded"]
        assert listed[0]["next_step"] == "authenticate"
        await expect(page.get_by_test_id("card-error")).to_have_text("")
        await screenshot(page, "3ds-completed")


async def test_three_d_secure_failed(database_url: str) -> None:
    expected = advise("payment_intent_authentication_failure", None, None)
    async with booking_page(database_url) as (_demo, page, _watch):
        await pick(page, "B3")
        await pay_by_card(page, "4000002760003184")
        challenge = page.frame_locator("[data-emulator-3ds] iframe")
        await challenge.locator("#fail").click()
        # Stripe's developer text ("The provided PaymentMethod has failed
        # authentication…") never reaches the customer: the service's words only.
        await expect(page.get_by_test_id("card-error")).to_have_text(expected.customer_message)
        assert "PaymentMethod" not in await page.locator("body").inner_text()
        await expect(page.get_by_test_id("attempt")).to_have_count(2)
        listed = await attempts(page)
        assert [a["outcome"] for a in listed] == ["requires_action", "failed"]
        assert "payment_intent_authentication_failure" in (listed[1]["error"] or "")
        assert listed[1]["next_step"] == expected.next_step
        await until_status(page, "requires_payment_method")
        await expect(page.locator("[data-emulator-3ds]")).to_have_count(0)
        await assert_accessible(page, "3-D Secure failed")
        await screenshot(page, "3ds-failed")


async def test_hosted_checkout_paid(database_url: str) -> None:
    async with booking_page(database_url) as (demo, page, watch):
        await pick(page, "A7", "A8")
        order_id = await page.get_by_test_id("order-id").text_content()
        await page.get_by_test_id("pay-hosted").click()
        await page.wait_for_url(f"{demo.emulator.url}/c/pay/**")
        await expect(page.get_by_text("Total: ")).to_contain_text("96.00 EUR")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await assert_accessible(page, "hosted Checkout")
        await page.locator('select[name="card"]').select_option("4242424242424242")
        await page.get_by_role("button", name="Pay").click()

        await page.wait_for_url(f"{demo.url}/checkout/return?**")
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "paid")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("live-flow")).to_have_text("Hosted Checkout")
        await expect(page.get_by_test_id("order-id")).to_have_text(order_id or "")
        await expect(page.get_by_test_id("attempt")).to_have_count(1)
        await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        await expect(page.get_by_test_id("result")).to_be_focused()
        await assert_accessible(page, "Checkout return")
        await screenshot(page, "checkout-paid-return")
        # The return page followed the payment the booking page created.
        payment_id = await page.get_by_test_id("live-payment-id").text_content()
        assert {s["payment_id"] for s in subscribes(watch)} == {payment_id}

        await page.get_by_test_id("back").click()
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "paid")
        await expect(page.get_by_test_id("pay")).to_be_hidden()


async def test_hosted_checkout_expired(database_url: str) -> None:
    async with booking_page(database_url) as (demo, page, _watch):
        await pick(page, "D8", "D9")
        order_id = await page.get_by_test_id("order-id").text_content()
        await page.get_by_test_id("pay-hosted").click()
        await page.wait_for_url(f"{demo.emulator.url}/c/pay/**")
        session_id = page.url.rsplit("/", 1)[-1]

        # The session runs out while the customer is on it (Stripe's clock).
        await demo.expire_checkout_session(session_id)
        await page.reload()
        await expect(page.get_by_text("This Checkout Session is expired.")).to_be_visible()
        await page.go_back()  # the booking page, as the browser's back button leaves it
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")

        await until_status(page, "canceled")
        await expect(page.get_by_test_id("live-status")).to_have_text("Canceled (expired)")
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "canceled")
        await expect(page.get_by_test_id("result-title")).to_have_text("Payment expired")
        await screenshot(page, "checkout-expired")

        # Nothing was taken: the same booking (same order id) can be paid again, by card.
        await expect(page.get_by_test_id("order-id")).to_have_text(order_id or "")
        await expect(page.get_by_test_id("seat-D7")).to_be_enabled()
        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("live-flow")).to_have_text("Card on page")
        await expect(page.get_by_test_id("order-id")).to_have_text(order_id or "")


async def test_reload_while_processing_resumes_from_since_version(database_url: str) -> None:
    async with booking_page(database_url, processing_delay=2.5) as (_demo, page, watch):
        await pick(page, "E6")
        await pay_by_card(page, "4000000000008880")
        await until_status(page, "processing")
        await expect(page.get_by_test_id("result")).to_have_attribute("data-result", "processing")
        held = await version(page)
        assert held > 1

        await page.reload()
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        # Straight from what the tab held, then the socket carries on from there.
        await until_status(page, "succeeded")
        resumed = subscribes(watch)[-1]
        assert resumed["since_version"] >= held > 0
        await expect(page.locator(PANEL)).to_have_attribute(
            "data-last-since-version", str(resumed["since_version"])
        )
        final = await version(page)
        assert await timeline_versions(page) == list(range(1, final + 1))
        assert [a["outcome"] for a in await attempts(page)] == ["processing", "succeeded"]
        await screenshot(page, "reload-processing-succeeded")


async def test_reconnects_with_backoff_after_the_socket_drops(database_url: str) -> None:
    async with booking_page(database_url, processing_delay=2.0) as (demo, page, watch):
        await pick(page, "F6", "F7")
        await pay_by_card(page, "4000000000008880")
        await until_status(page, "processing")
        held = await version(page)

        demo.unreachable = True
        assert await demo.drop_live_connections() == 1
        connection = page.get_by_test_id("connection")
        await expect(connection).to_have_attribute("data-state", "reconnecting")
        await expect(page.get_by_test_id("connection-detail")).to_contain_text("retrying in")
        await screenshot(page, "reconnecting")
        await demo.emulator.handle.wait_idle()  # succeeded while the page was cut off
        await asyncio.sleep(0.5)
        await until_status(page, "processing")

        demo.unreachable = False
        await expect(connection).to_have_attribute("data-state", "live", timeout=20_000)
        await until_status(page, "succeeded")
        resumed = subscribes(watch)[-1]
        assert resumed["since_version"] == held
        await expect(page.locator(PANEL)).to_have_attribute("data-reconnects", "1")
        final = await version(page)
        assert await timeline_versions(page) == list(range(1, final + 1))
