"""The booking page as a customer meets it (issue 15): a phone's width, the keyboard, a
screen reader's names, leaving hosted Checkout, a reload during 3-D Secure, and a live
panel that speaks to the customer first. axe-core checks each state visited.
"""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.booking_page import (
    PHONE,
    attempts,
    booking_page,
    pay_by_card,
    pick,
    start_three_d_secure,
    until_status,
)
from tests.support.browser import assert_accessible, screenshot


async def focused_seat(page: Page) -> str | None:
    seat: str | None = await page.evaluate("() => document.activeElement.dataset.seat || null")
    return seat


async def test_cancel_and_return_lets_the_customer_pay_by_card_at_once(database_url: str) -> None:
    async with booking_page(database_url) as (demo, page, _watch):
        await pick(page, "D8", "D9")
        order_id = await page.get_by_test_id("order-id").text_content()
        await page.get_by_test_id("pay-hosted").click()
        await page.wait_for_url(f"{demo.emulator.url}/c/pay/**")
        session_id = page.url.rsplit("/", 1)[-1]

        await page.get_by_role("link", name="Cancel and return").click()
        await page.wait_for_url(f"{demo.url}/")
        # The tab gave up its own session: expired at Stripe, the payment canceled, and
        # the customer told so, with no wait of 30 minutes.
        await expect(page.get_by_test_id("checkout-notice")).to_contain_text("no money was taken")
        await until_status(page, "canceled")
        await expect(page.get_by_test_id("live-status")).to_have_text("Canceled (abandoned)")
        session = demo.emulator.handle.store.find("checkout.session", session_id)
        assert session is not None
        assert session["status"] == "expired"
        await assert_accessible(page, "back from Checkout")
        await screenshot(page, "checkout-canceled-return")

        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("live-flow")).to_have_text("Card on page")
        await expect(page.get_by_test_id("order-id")).to_have_text(order_id or "")
        await expect(page.get_by_test_id("pay-message")).not_to_have_attribute("data-kind", "error")


async def test_a_phone_width_main_flow(database_url: str) -> None:
    async with booking_page(database_url, **PHONE) as (_demo, page, _watch):
        # Nothing sticks out where scrolling cannot reach, and seat 1 of every row, and
        # the row letters, are on screen.
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        for row in "ABCDEF":
            box = await page.get_by_test_id(f"seat-{row}1").bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= PHONE["width"]
            assert box["width"] >= 24  # a touch target (WCAG 2.2 target size)
        labels = await page.eval_on_selector_all(
            ".row-label", "nodes => nodes.map(n => n.getBoundingClientRect().left)"
        )
        assert min(labels) >= 0
        await assert_accessible(page, "phone: seats")
        await pick(page, "A1", "B1")
        await expect(page.get_by_test_id("total")).to_have_attribute("data-amount", "9600")
        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        await expect(page.get_by_test_id("result")).to_be_focused()
        await expect(page.get_by_test_id("result")).to_be_in_viewport()
        await assert_accessible(page, "phone: paid")
        await screenshot(page, "phone-paid")


async def test_the_seat_map_is_one_tab_stop_with_arrow_keys(database_url: str) -> None:
    async with booking_page(database_url) as (_demo, page, _watch):
        stops = await page.eval_on_selector_all(
            "[data-seat]", "nodes => nodes.filter(n => n.tabIndex === 0).length"
        )
        assert stops == 1
        # The name a screen reader announces starts from the number on the seat.
        seat = page.get_by_role("button", name="Row A seat 1 (Front stalls, €48.00)", exact=True)
        await expect(seat).to_have_attribute("data-seat", "A1")
        await seat.focus()
        await page.keyboard.press("ArrowRight")
        assert await focused_seat(page) == "A2"
        await page.keyboard.press("ArrowDown")
        assert await focused_seat(page) == "B2"
        await page.keyboard.press("End")
        assert await focused_seat(page) == "B10"
        await page.keyboard.press("Space")
        await expect(page.get_by_test_id("seat-B10")).to_have_attribute("aria-pressed", "true")
        assert await focused_seat(page) == "B10"  # re-rendering keeps the focus
        # One Tab leaves the map: the next stop is not another seat.
        await page.keyboard.press("Tab")
        assert await focused_seat(page) is None
        await page.keyboard.press("Shift+Tab")
        assert await focused_seat(page) == "B10"
        await assert_accessible(page, "seat picked by keyboard")


async def test_the_panel_shows_the_customer_view_and_developers_a_toggle(
    database_url: str,
) -> None:
    async with booking_page(database_url) as (_demo, page, _watch):
        await pick(page, "C8")
        await pay_by_card(page, "4000000000000002")
        await until_status(page, "requires_payment_method")
        await expect(page.get_by_test_id("live-message")).to_have_text("Your card was declined.")
        # Versions, payment ids, event names and codes are not the customer's business.
        for developer_only in ("live-version", "live-payment-id", "timeline", "attempt-error"):
            await expect(page.get_by_test_id(developer_only)).to_be_hidden()
        panel = await page.get_by_test_id("live-panel").inner_text()
        assert "generic_decline" not in panel
        assert "payment_intent." not in panel
        toggle = page.get_by_test_id("view-toggle")
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        await expect(page.get_by_test_id("timeline")).to_be_visible()
        await expect(page.get_by_test_id("live-version")).to_be_visible()
        await expect(page.get_by_test_id("attempt-error")).to_contain_text("generic_decline")
        await assert_accessible(page, "developer view")


async def test_a_reload_during_3d_secure_can_reopen_the_challenge(database_url: str) -> None:
    async with booking_page(database_url) as (_demo, page, _watch):
        challenge = await start_three_d_secure(page, "B5")

        await page.reload()
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        await until_status(page, "requires_action")
        await expect(page.locator("[data-emulator-3ds]")).to_have_count(0)
        resume = page.get_by_test_id("resume-action")
        await expect(resume).to_be_visible()
        await assert_accessible(page, "3-D Secure pending after a reload")
        await resume.click()
        await challenge.locator("#complete").click()
        await until_status(page, "succeeded")
        assert [a["outcome"] for a in await attempts(page)] == ["requires_action", "succeeded"]
