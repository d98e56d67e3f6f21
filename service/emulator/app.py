"""The emulator's aiohttp app: Stripe's wire format (auth, params, errors, idempotency,
request ids, CORS) around the resource handlers.

    app = create_emulator_app(EmulatorConfig(...))
    handle = app[EMULATOR]          # state, knobs, wait_idle(), deliveries, events()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web

from . import (
    checkout,
    customers,
    events,
    pages,
    payment_intents,
    payment_methods,
    refunds,
    setup_intents,
    stripe_js,
)
from .api import EMULATOR, PARAMS, PUBLISHABLE
from .config import EmulatorConfig
from .errors import StripeError
from .forms import decode
from .idempotency import Saved
from .state import REQUEST, Emulator
from .store import new_id

__all__ = ["EMULATOR", "Emulator", "EmulatorConfig", "create_emulator_app"]

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Routes Stripe serves to a publishable key (the handlers then demand the client_secret).
PUBLISHABLE_ROUTES = frozenset(
    {
        ("POST", "/v1/payment_methods"),
        ("GET", "/v1/payment_intents/{id}"),
        ("POST", "/v1/payment_intents/{id}/confirm"),
        ("GET", "/v1/setup_intents/{id}"),
        ("POST", "/v1/setup_intents/{id}/confirm"),
    }
)
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Stripe-Version",
    "Access-Control-Max-Age": "600",
}
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)


def _unauthorized(message: str) -> StripeError:
    return StripeError(401, "invalid_request_error", message)


def _authenticate(request: web.Request) -> bool:
    """Check the key; returns True for a publishable key."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":  # `curl -u sk_test_…:` sends the key as the user name
        try:
            key = base64.b64decode(key, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    elif scheme.lower() != "bearer":
        key = ""
    if not key:
        raise _unauthorized(_NO_KEY)
    if key.startswith(("sk_test_", "rk_test_")):
        return False
    if key.startswith("pk_test_"):
        route = request.match_info.route.resource
        canonical = route.canonical if route is not None else request.path
        if (request.method, canonical) not in PUBLISHABLE_ROUTES:
            raise _unauthorized(
                "This API call cannot be made with a publishable API key. Please use a "
                "secret API key. You can find a list of your API keys at "
                "https://dashboard.stripe.com/account/apikeys."
            )
        return True
    masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
    raise _unauthorized(f"Invalid API Key provided: {masked}")


def _json_error(error: StripeError, request_id: str) -> web.Response:
    return web.json_response(error.body(request_id), status=error.status)


async def _api(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    publishable = _authenticate(request)
    if request.match_info.http_exception is not None:
        raise StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )
    body = await request.text() if request.method == "POST" else request.query_string
    pairs = parse_qsl(body, keep_blank_values=True)
    request[PARAMS] = decode(pairs)
    request[PUBLISHABLE] = publishable
    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    REQUEST.set({"id": request_id, "idempotency_key": key})
    delay = request.app[EMULATOR].config.api_delay if request.method == "POST" else 0.0
    if key is None:
        if delay > 0:
            await asyncio.sleep(delay)
        return await handler(request)
    cache = request.app[EMULATOR].idempotency
    fingerprint = f"{request.method} {request.path} {sorted(pairs)}"
    saved = cache.begin(key, fingerprint)
    if saved is not None:
        return web.Response(
            body=saved.body,
            status=saved.status,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true", "Original-Request": saved.request_id},
        )
    result: Saved | None = None
    try:
        if delay > 0:  # after claiming the key, so a second request sees it in flight
            await asyncio.sleep(delay)
        response = await handler(request)
        answer = response.body if isinstance(response, web.Response) else None
        if isinstance(answer, bytes) and response.status < 500:
            result = Saved(response.status, answer, request_id)
        return response
    except StripeError as exc:
        error_body = _json_error(exc, request_id).body
        if exc.saved and isinstance(error_body, bytes):
            result = Saved(exc.status, error_body, request_id)
        raise
    finally:
        cache.finish(key, result)


@web.middleware
async def stripe_wire(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = new_id("req", 14)
    is_api = request.path.startswith("/v1/")
    if is_api and request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204, headers=_CORS)
    elif is_api:
        try:
            response = await _api(request, handler, request_id)
        except StripeError as exc:
            response = _json_error(exc, request_id)
        except Exception:  # an emulator bug: answer like Stripe's 500s, keep the traceback
            log.exception("emulator error on %s %s", request.method, request.path)
            response = _json_error(
                StripeError(500, "api_error", "An unknown error occurred"), request_id
            )
        response.headers.update(_CORS)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["Request-Id"] = request_id
            raise
    response.headers["Request-Id"] = request_id
    return response


def create_emulator_app(config: EmulatorConfig | None = None) -> web.Application:
    """The emulator as an aiohttp app; its handle is `app[EMULATOR]`."""
    app = web.Application(middlewares=[stripe_wire], client_max_size=1024 * 1024)
    emulator = Emulator(config or EmulatorConfig())
    app[EMULATOR] = emulator
    modules = (
        customers,
        payment_methods,
        payment_intents,
        setup_intents,
        refunds,
        checkout,
        events,
    )
    for module in modules:
        app.router.add_routes(module.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(stripe_js.routes)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    emulator = app[EMULATOR]
    sweeper = asyncio.create_task(checkout.sweep_expired(emulator))
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await emulator.close()
