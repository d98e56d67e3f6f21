"""The integration guide's example SPA (service/web/examples/minimal.html) in Chromium:
paylive.js for the live status, the emulator's Payment Element for the card."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

from playwright.async_api import Page, expect

from service.payments.declines import advise
from tests.support.browser import Demo, PageWatch, chromium, new_page, running_demo, screenshot

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@contextlib.asynccontextmanager
async def example_page(database_url: str) -> AsyncIterator[tuple[Demo, Page, PageWatch]]:
    async with running_demo(database_url) as demo, chromium() as browser:
        page, watch = await new_page(browser)
        await page.goto(demo.url + "/examples/minimal.html")
        await expect(page.locator("body")).to_have_attribute("data-ready", "true")
        yield demo, page, watch
        await page.context.close()
    assert watch.errors == [], watch.errors
    assert watch.foreign_requests(LOCAL_HOSTS) == []


async def pay(page: Page, number: str) -> None:
    element = page.get_by_test_id("payment-element")
    await element.locator('input[name="cardnumber"]').fill(number)
    await element.locator('input[name="exp-date"]').fill("12 / 34")
    await element.locator('input[name="cvc"]').fill("123")
    await expect(page.get_by_test_id("pay")).to_be_enabled()
    await page.get_by_test_id("pay").click()


async def eventually(check: Callable[[], bool], seconds: float = 15) -> None:
    """Until `check()` holds (what the page sent or loaded is recorded as it happens)."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


def subscribes(watch: PageWatch) -> list[dict[str, object]]:
    sent = [json.loads(frame) for frame in watch.ws_sent]
    return [message for message in sent if message.get("type") == "subscribe"]


def newest_version_received(watch: PageWatch) -> int:
    frames = [json.loads(frame) for frame in watch.ws_received]
    return max((int(f["version"]) for f in frames if "version" in f), default=0)


async def settled_version(watch: PageWatch) -> int:
    """The newest version the page received, once no newer one came for half a second."""
    while True:
        held = newest_version_received(watch)
        await asyncio.sleep(0.5)
        if newest_version_received(watch) == held:
            return held


async def test_pays_and_sees_succeeded_arrive_live(database_url: str) -> None:
    async with example_page(database_url) as (_demo, page, watch):
        await expect(page.get_by_test_id("status")).to_have_text("requires_payment_method")
        await expect(page.get_by_test_id("transport")).to_have_text("websocket")
        await pay(page, "4242424242424242")
        await expect(page.get_by_test_id("status")).to_have_text("succeeded")
        await expect(page.get_by_test_id("pay")).to_have_text("Paid")
        await expect(page.get_by_test_id("message")).to_have_text("")
        assert int(await page.get_by_test_id("version").inner_text()) > 1
        # One subscription on one socket, from version 0: paylive.js did the watching.
        [subscribe] = subscribes(watch)
        assert subscribe["since_version"] == 0
        assert any(url.endswith("/paylive.js") for url in watch.requests)
        await screenshot(page, "minimal-example-paid")


async def test_decline_shows_the_customer_message_then_pays(database_url: str) -> None:
    expected = advise("card_declined", "insufficient_funds", "try_again_later")
    async with example_page(database_url) as (_demo, page, _watch):
        await pay(page, "4000000000009995")
        await expect(page.get_by_test_id("message")).to_have_text(
            "Your card has insufficient funds."
        )
        # Our advice for the decline arrives over the live stream, as the change's attempt.
        await expect(page.get_by_test_id("advice")).to_have_text(expected.customer_message)
        await expect(page.get_by_test_id("status")).to_have_text("requires_payment_method")
        await screenshot(page, "minimal-example-declined")
        await pay(page, "4242424242424242")
        await expect(page.get_by_test_id("status")).to_have_text("succeeded")


async def test_three_d_secure_over_the_page(database_url: str) -> None:
    async with example_page(database_url) as (_demo, page, _watch):
        await pay(page, "4000002760003184")
        challenge = page.frame_locator("[data-emulator-3ds] iframe")
        await expect(challenge.locator("#complete")).to_be_visible()
        await expect(page.get_by_test_id("status")).to_have_text("requires_action")
        await challenge.locator("#complete").click()
        await expect(page.get_by_test_id("status")).to_have_text("succeeded")


async def test_restart_resumes_and_blocked_websockets_fall_back_to_sse(database_url: str) -> None:
    async with example_page(database_url) as (demo, page, watch):
        await expect(page.get_by_test_id("status")).to_have_text("requires_payment_method")
        # A restart (1012): paylive.js resubscribes from the version it holds (1, or 2
        # when the PaymentIntent's own webhook attached its id first).
        held = await settled_version(watch)
        assert await demo.drop_live_connections() == 1
        await eventually(lambda: len(subscribes(watch)) == 2)
        assert held >= 1
        assert [s["since_version"] for s in subscribes(watch)] == [0, held]
        # Now WebSockets cannot get through (503 on /ws): after 3 failed handshakes it reads
        # Server-Sent Events, and the payment's outcome still arrives live.
        demo.outage = True
        assert await demo.drop_live_connections() == 1
        await eventually(lambda: any("/stream?since_version=1" in url for url in watch.requests))
        await pay(page, "4242424242424242")
        await expect(page.get_by_test_id("status")).to_have_text("succeeded")
        await expect(page.get_by_test_id("transport")).to_have_text("sse")
        assert len(subscribes(watch)) == 2  # nothing more was sent over a WebSocket
