"""Serves the Stripe.js-compatible shim, templated with the emulator's own base URL."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .api import base_url

routes = web.RouteTableDef()

_SCRIPT = (Path(__file__).parent / "static" / "stripe.js").read_text(encoding="utf-8")


async def _serve(request: web.Request) -> web.Response:
    script = _SCRIPT.replace("__EMULATOR_BASE__", base_url(request))
    return web.Response(
        text=script,
        content_type="application/javascript",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
    )


routes.get("/v3/")(_serve)
routes.get("/v3")(_serve)
routes.get("/js/stripe.js")(_serve)
