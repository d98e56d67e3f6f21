"""Every error answer is ``{"error": {"code", "message", "details"}}``, 404s included."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from service import errors

log = logging.getLogger(__name__)

# The database's own outage: what asyncpg raises when the server is gone, restarting or
# refusing us, and a query or pool acquire past its timeout (asyncpg raises the builtin
# TimeoutError; Stripe's timeouts are GatewayUnavailable before they get here). A pool
# that cannot open a connection raises ``DatabaseUnavailable`` (``db/pool.py``). Not bare
# OSError/ConnectionError: a client that hangs up mid-answer raises those too.
DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    TimeoutError,
)

# What the access log records for a request whose client left before the answer (the
# status nginx uses for it); aiohttp's attempt to send it fails quietly.
CLIENT_CLOSED_REQUEST = 499

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The error answer around one handler: the idempotency middleware's, so what it
    stores is what the caller saw. The app's outermost one, ``edge_middleware``, calls
    ``error_answer`` in its own frame instead."""
    try:
        return await handler(request)
    except Exception as exc:
        answer = error_answer(request, exc)
        if answer is None:
            raise
        return answer


def error_answer(request: web.Request, exc: Exception) -> web.Response | None:
    """The answer for what a handler raised; None for what is not an error (an
    ``HTTPException`` below 400, a redirect), which the caller re-raises. Called from
    inside the ``except`` block, so ``log.exception`` has the traceback."""
    if isinstance(exc, (errors.DatabaseUnavailable, *DATABASE_DOWN)):
        cause = exc.__cause__ if isinstance(exc, errors.DatabaseUnavailable) else exc
        log.warning("database unavailable on %s %s: %r", request.method, request.path, cause)
        return render(errors.DatabaseUnavailable())
    if isinstance(exc, errors.ServiceError):
        return render(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason, headers=headers)
    if isinstance(exc, ConnectionError) and _client_left(request):
        # A browser leaving mid-handshake: no outage, and nobody left to answer.
        log.info("client went away on %s %s: %r", request.method, request.path, exc)
        return web.Response(status=CLIENT_CLOSED_REQUEST)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def render(exc: errors.ServiceError) -> web.Response:
    """Any service error, from what it carries: its status, code, message and details."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return error_response(exc.http_status, exc.code, exc.message, exc.details, headers)


def _client_left(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
