"""CORS for the browser-facing JSON API, for the configured origins only (aiohttp-cors).

aiohttp-cors works per route: it adds an OPTIONS (preflight) route to each resource it
is given and sets the ``Access-Control-*`` headers on every answer of those resources in
``on_response_prepare`` — so answers the error middleware builds from raised errors get
them too. Call ``setup_cors`` after every route exists; routes added later are not covered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import aiohttp_cors
from aiohttp import hdrs, web

log = logging.getLogger(__name__)

ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Status-Token",
    "X-Order-Token",
    "X-Request-ID",
)
EXPOSE_HEADERS = ("X-Request-ID", "Idempotent-Replayed")
MAX_AGE_SECONDS = 600


def cors_applies(path: str) -> bool:
    """Only the browser API: not the WebSocket (it checks Origin itself), not Stripe's
    webhooks (server to server), not the ops endpoints outside /api/."""
    if path == "/ws" or path.startswith("/webhooks/"):
        return False
    return path.startswith("/api/")


def setup_cors(app: web.Application, origins: Sequence[str]) -> aiohttp_cors.CorsConfig | None:
    """Allow ``origins`` (exact ``scheme://host[:port]`` strings) on the /api/ routes.

    With no origins nothing is installed: no OPTIONS routes, no CORS headers anywhere.
    """
    if not origins:
        return None
    # A mapping, not ResourceOptions(...): aiohttp-cors turns it into one, and its
    # constructor is untyped. No allow_methods: a preflight may ask only for a method
    # the resource really has.
    options = {
        "allow_credentials": False,  # credentials are explicit headers, never cookies
        "allow_headers": ALLOW_HEADERS,
        "expose_headers": EXPOSE_HEADERS,
        "max_age": MAX_AGE_SECONDS,
    }
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(origins, options))
    covered: set[web.AbstractResource] = set()
    for route in list(app.router.routes()):
        # HEAD rides on its GET (same resource); OPTIONS would clash with the preflight.
        if route.method in (hdrs.METH_HEAD, hdrs.METH_OPTIONS) or route.resource is None:
            continue
        if cors_applies(route.resource.canonical):
            cors.add(route)
            covered.add(route.resource)
    app.on_response_prepare.append(_vary_on_origin(frozenset(covered)))
    log.info("CORS allowed for %d origin(s)", len(origins))
    return cors


def _vary_on_origin(
    covered: frozenset[web.AbstractResource],
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """aiohttp-cors echoes the origin but sets no ``Vary: Origin``; without it a shared
    cache could hand one origin's answer (with its Allow-Origin) to another."""

    async def add_vary(request: web.Request, response: web.StreamResponse) -> None:
        if request.match_info.route.resource not in covered:
            return
        vary = response.headers.get(hdrs.VARY, "")
        if "origin" not in {v.strip().lower() for v in vary.split(",")}:
            response.headers[hdrs.VARY] = f"{vary}, Origin" if vary else "Origin"

    return add_vary
