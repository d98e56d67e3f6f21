"""The demo single-page app's handlers (routed only with DEMO_PAGE / `python -m service demo`)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from service.keys import SETTINGS

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def checkout_return(request: web.Request) -> web.FileResponse:
    """Where hosted Checkout sends the customer back; the page follows the payment live."""
    return web.FileResponse(WEB_DIR / "return.html", headers={"Cache-Control": "no-cache"})


async def my_bookings(request: web.Request) -> web.FileResponse:
    """The signed-in customer's bookings, with paid marks that change live."""
    return web.FileResponse(WEB_DIR / "bookings.html", headers={"Cache-Control": "no-cache"})


async def favicon(request: web.Request) -> web.FileResponse:
    """Browsers ask for /favicon.ico on every load; a day's caching keeps it to one ask."""
    return web.FileResponse(
        WEB_DIR / "favicon.ico",
        headers={"Cache-Control": "public, max-age=86400", "Content-Type": "image/x-icon"},
    )


async def minimal_example(request: web.Request) -> web.FileResponse:
    """The one-file SPA the integration guide describes: paylive.js and the Payment Element."""
    return web.FileResponse(
        WEB_DIR / "examples" / "minimal.html", headers={"Cache-Control": "no-cache"}
    )


async def config(request: web.Request) -> web.Response:
    """What the page needs to know: the publishable key and where Stripe.js lives."""
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "publishable_key": settings.stripe_publishable_key,
            "stripe_js_url": settings.stripe_js_url,
            "sign_in_url": settings.auth_sign_in_url,
        }
    )
