"""Signed-in customers in real Chromium: sign in at the Clerk stand-in, pay, see the booking
under My bookings turn paid live; a second user never sees or follows the first's."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.support.booking_page import pay_by_card
from tests.support.browser import Demo, chromium, new_page, screenshot
from tests.support.clerk import demo_with_sign_in

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


async def sign_in(page: Page, demo: Demo, email: str, first: str, last: str) -> None:
    await page.goto(demo.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await page.get_by_test_id("sign-in").click()
    await page.get_by_test_id("sign-in-email").fill(email)
    await page.get_by_test_id("sign-in-first-name").fill(first)
    await page.get_by_test_id("sign-in-last-name").fill(last)
    await page.get_by_test_id("sign-in-submit").click()
    await page.wait_for_url(demo.url + "/")
    await expect(page.get_by_test_id("signed-in-as")).to_have_text(email)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")


async def book_and_pay(page: Page, seat: str, number: str) -> str:
    await page.get_by_test_id(f"seat-{seat}").click()
    order_id = await page.get_by_test_id("order-id").text_content()
    await pay_by_card(page, number)
    assert order_id
    return order_id


async def user_page(browser: Browser) -> Page:
    page, _ = await new_page(browser)
    return page


async def test_sign_in_pay_and_see_it_turn_paid_live(database_url: str) -> None:
    async with (
        demo_with_sign_in(database_url, processing_delay=3.0) as (demo, clerk),
        chromium() as browser,
    ):
        page, watch = await new_page(browser)
        await sign_in(page, demo, "ada@example.com", "Ada", "Lovelace")
        assert [kind for kind, status in clerk.deliveries] == ["user.created"]
        assert all(status == 200 for _, status in clerk.deliveries)
        # A card that goes through "processing" first: the mark changes on My bookings.
        order_id = await book_and_pay(page, "B5", "4000000000008880")
        await expect(page.get_by_test_id("live-panel")).to_have_attribute(
            "data-status", "processing"
        )
        await page.get_by_test_id("my-bookings-link").click()
        booking = page.get_by_test_id("booking")
        await expect(booking).to_have_count(1)
        await expect(booking).to_have_attribute("data-order-id", order_id)
        await expect(booking).to_have_attribute("data-status", "processing")
        await expect(page.locator("body")).to_have_attribute("data-live", "true")
        await expect(booking.get_by_test_id("paid-mark")).to_have_text("Paid ✓")
        await expect(booking).to_have_attribute("data-status", "succeeded")
        await screenshot(page, "my-bookings-paid")
        await page.context.close()
    assert watch.errors == [], watch.errors
    assert watch.foreign_requests(LOCAL_HOSTS) == []


async def test_hosted_checkout_return_waits_then_shows_my_bookings(database_url: str) -> None:
    async with demo_with_sign_in(database_url) as (demo, _clerk), chromium() as browser:
        page, watch = await new_page(browser)
        await sign_in(page, demo, "grace@example.com", "Grace", "Hopper")
        await page.get_by_test_id("seat-A7").click()
        order_id = await page.get_by_test_id("order-id").text_content()
        await page.get_by_test_id("pay-hosted").click()
        await page.wait_for_url(f"{demo.emulator.url}/c/pay/**")
        await page.locator('select[name="card"]').select_option("4242424242424242")
        await page.get_by_role("button", name="Pay").click()
        await page.wait_for_url(f"{demo.url}/bookings?paid=**")
        booking = page.get_by_test_id("booking")
        await expect(booking).to_have_attribute("data-order-id", order_id or "")
        await expect(booking.get_by_test_id("paid-mark")).to_be_visible()
        await page.context.close()
    # The return page moved on only after the socket said "succeeded".
    assert watch.errors == [], watch.errors


async def _try_to_follow(page: Page, payment_id: str) -> dict[str, Any]:
    """From the second user's page: fetch the payment and subscribe to it (cookie only)."""
    result: dict[str, Any] = await page.evaluate(
        """async (paymentId) => {
            const response = await fetch(`/api/payments/${paymentId}`);
            const body = await response.json();
            const socket = await new Promise((resolve) => {
                const ws = new WebSocket(`ws://${location.host}/ws`);
                const subscribe = {type: "subscribe", payment_id: paymentId};
                ws.onopen = () => ws.send(JSON.stringify(subscribe));
                ws.onmessage = (event) => {
                    const message = JSON.parse(event.data);
                    if (message.type !== "ping") resolve(message);
                };
                ws.onclose = (event) => resolve({closed: event.code});
            });
            const code = body.error && body.error.code;
            return {status: response.status, code, socket};
        }""",
        payment_id,
    )
    return result


async def test_a_second_user_cannot_see_or_follow_the_first_users_payments(
    database_url: str,
) -> None:
    async with demo_with_sign_in(database_url) as (demo, _clerk), chromium() as browser:
        first = await user_page(browser)
        await sign_in(first, demo, "alice@example.com", "Alice", "A")
        await book_and_pay(first, "C5", "4242424242424242")
        await expect(first.get_by_test_id("result")).to_have_attribute("data-result", "paid")
        await first.get_by_test_id("my-bookings-link").click()
        await expect(first.get_by_test_id("paid-mark")).to_be_visible()
        payment_id = await first.get_by_test_id("booking").get_attribute("data-payment-id")
        assert payment_id

        second = await user_page(browser)  # its own browser context: its own cookies
        await sign_in(second, demo, "bob@example.com", "Bob", "B")
        await second.get_by_test_id("my-bookings-link").click()
        await expect(second.get_by_test_id("bookings-state")).to_have_text("No bookings yet.")
        await expect(second.get_by_test_id("booking")).to_have_count(0)
        answer = await _try_to_follow(second, payment_id)
        assert answer["status"] == 403
        assert answer["code"] == "payment_of_another_customer"
        assert answer["socket"]["type"] == "error", json.dumps(answer)
        assert answer["socket"]["code"] == "payment_of_another_customer"
        # The first user still can.
        assert (await _try_to_follow(first, payment_id))["socket"]["type"] == "snapshot"
        await first.context.close()
        await second.context.close()
