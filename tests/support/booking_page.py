"""The booking page driven as a customer would: open it, pick seats, pay, read the panel.

``booking_page`` runs the demo, opens the page in headless Chromium (at a phone's width
when asked) and afterwards checks that the page raised no error and loaded nothing from
outside this machine.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from playwright.async_api import FrameLocator, Locator, Page, expect

from tests.support.browser import Demo, PageWatch, chromium, new_page, running_demo

PHONE = {"width": 375, "height": 740}

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
PANEL = '[data-testid="live-panel"]'


@contextlib.asynccontextmanager
async def booking_page(
    database_url: str, *, processing_delay: float = 1.0, width: int = 1280, height: int = 1000
) -> AsyncIterator[tuple[Demo, Page, PageWatch]]:
    """The demo running, the booking page open and ready; checks afterwards that the page
    raised no error and loaded nothing from outside this machine."""
    async with (
        running_demo(database_url, processing_delay=processing_delay) as demo,
        chromium() as browser,
    ):
        page, watch = await new_page(browser, width=width, height=height)
        await open_booking(page, demo)
        yield demo, page, watch
        await page.context.close()
    assert watch.errors == [], watch.errors
    assert watch.foreign_requests(LOCAL_HOSTS) == []
    # Each live message carries the newest attempt: the page never re-reads the history.
    assert [url for url in watch.requests if url.endswith("/attempts")] == []


async def open_booking(page: Page, demo: Demo) -> None:
    await page.goto(demo.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")


async def pick(page: Page, *seats: str) -> None:
    for seat in seats:
        await page.get_by_test_id(f"seat-{seat}").click()


async def open_card_form(page: Page) -> None:
    """Click "Pay by card" (the PaymentIntent is made, the Payment Element mounted for it),
    unless this booking's card payment is open already (after a decline, say)."""
    start = page.get_by_test_id("card-start")
    if await start.is_visible():
        await expect(start).to_be_enabled()
        await start.click()
    await expect(page.get_by_test_id("payment-element").locator("input").first).to_be_visible()


async def fill_card_fields(box: Locator, number: str) -> None:
    """The card fields the emulator's Stripe.js renders in `box` (its Payment Element and
    Card Element alike; Stripe's own render the same fields in an iframe)."""
    await box.locator('input[name="cardnumber"]').fill(number)
    await box.locator('input[name="exp-date"]').fill("12 / 34")
    await box.locator('input[name="cvc"]').fill("123")


async def fill_card(page: Page, number: str) -> None:
    await fill_card_fields(page.get_by_test_id("payment-element"), number)


async def pay_by_card(page: Page, number: str) -> None:
    await open_card_form(page)
    await fill_card(page, number)
    await expect(page.get_by_test_id("pay-card")).to_be_enabled()
    await page.get_by_test_id("pay-card").click()


async def until_status(page: Page, status: str) -> None:
    await expect(page.locator(PANEL)).to_have_attribute("data-status", status)


async def version(page: Page) -> int:
    return int(await page.locator(PANEL).get_attribute("data-version") or 0)


async def attempts(page: Page) -> list[dict[str, Any]]:
    """The attempt history as the panel shows it."""
    rows: list[dict[str, Any]] = await page.eval_on_selector_all(
        '[data-testid="attempt"]',
        """rows => rows.map(row => {
            const advice = row.querySelector('[data-testid="attempt-advice"]');
            const error = row.querySelector('[data-testid="attempt-error"]');
            return {
                outcome: row.dataset.outcome,
                error: error ? error.textContent : null,
                next_step: advice ? advice.dataset.nextStep : null,
                retryable: advice ? advice.dataset.retryable === "true" : null,
                advice: advice ? advice.textContent : null,
            };
        })""",
    )
    return rows


async def timeline_versions(page: Page) -> list[int]:
    versions: list[int] = await page.eval_on_selector_all(
        '[data-testid="timeline-entry"]', "rows => rows.map(r => Number(r.dataset.version))"
    )
    return sorted(versions)


def subscribes(watch: PageWatch) -> list[dict[str, Any]]:
    sent = [json.loads(frame) for frame in watch.ws_sent]
    return [message for message in sent if message.get("type") == "subscribe"]


async def start_three_d_secure(page: Page, seat: str) -> FrameLocator:
    """Pick `seat` and pay with the 3-D Secure test card: the challenge is open over the
    page and the payment waits for it (requires_action). Returns the challenge frame."""
    await pick(page, seat)
    await pay_by_card(page, "4000002760003184")
    challenge = page.frame_locator("[data-emulator-3ds] iframe")
    await expect(challenge.locator("#complete")).to_be_visible()
    await until_status(page, "requires_action")
    return challenge
