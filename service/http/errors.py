"""Every error answer is ``{"error": {"code", "message", "details"}}``, 404s included."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from service import errors

log = logging.getLogger(__name__)

_STATUS: dict[type[errors.ServiceError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.UpstreamError: 502,
    errors.Unavailable: 503,
    errors.CardDeclined: 402,
}

# What asyncpg raises when the server is gone, restarting or unreachable.
DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    ConnectionError,
    OSError,
)

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


def status_for(exc: errors.ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.ServiceError as exc:
        return error_response(status_for(exc), exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason, headers=headers)
    except DATABASE_DOWN as exc:
        log.warning("database unavailable on %s %s: %r", request.method, request.path, exc)
        return error_response(
            503,
            "database_unavailable",
            "The database is unavailable; retry shortly.",
            headers={"Retry-After": "1"},
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
