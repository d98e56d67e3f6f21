"""The demo's live status is paylive.js, the module any SPA imports from /paylive.js: the
booking page loads it, and where WebSockets cannot get through it carries on over
Server-Sent Events (which only paylive.js speaks: the page has no protocol of its own)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.booking_page import (
    PANEL,
    attempts,
    booking_page,
    pay_by_card,
    pick,
    subscribes,
    timeline_versions,
    until_status,
    version,
)
from tests.support.browser import assert_accessible


async def test_blocked_websockets_fall_back_to_server_sent_events(database_url: str) -> None:
    async with booking_page(database_url) as (demo, page, watch):
        assert any(url.endswith("/paylive.js") for url in watch.requests)
        demo.outage = True  # every WebSocket handshake is refused (no payment watched yet)
        await pick(page, "C9")
        await pay_by_card(page, "4000000000009995")  # declined first
        await until_status(page, "requires_payment_method")
        await expect(page.get_by_test_id("attempt")).to_have_count(1)
        await expect(page.locator(PANEL)).to_have_attribute("data-transport", "sse")
        await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        await pay_by_card(page, "4242424242424242")
        await until_status(page, "succeeded")
        assert [a["outcome"] for a in await attempts(page)] == ["failed", "succeeded"]
        final = await version(page)
        assert await timeline_versions(page) == list(range(1, final + 1))
        # Nothing went over a WebSocket: the stream carried it all, token in a header.
        assert subscribes(watch) == []
        streams = [url for url in watch.requests if "/stream?since_version=" in url]
        assert streams
        assert all("token" not in url for url in streams)
        await page.get_by_test_id("view-toggle").click()
        await expect(page.get_by_test_id("live-transport")).to_have_text("Server-Sent Events")
        await assert_accessible(page, "paid over Server-Sent Events")
