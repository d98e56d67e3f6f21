"""``X-Request-ID``: taken from the caller when sane, made otherwise, echoed and logged."""

from __future__ import annotations

import itertools
import re
import secrets

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware

from service.keys import LOG_FIELDS, REQUEST_ID
from service.logs import request_id_var

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_middleware() -> Middleware:
    """Made once per app. Ids it makes are a random prefix and a counter: unique across
    processes without a call to os.urandom per request (uuid4 was 1% of a webhook)."""
    prefix = secrets.token_hex(8)
    counter = itertools.count(1)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SANE.match(given) else f"{prefix}{next(counter):016x}"
        request[REQUEST_ID] = request_id
        token = request_id_var.set(request_id)
        try:
            return await handler(request)
        finally:
            request_id_var.reset(token)

    return middleware


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer carries the id, streamed ones (SSE, the
    WebSocket upgrade) and error pages included, whoever prepared them."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-ID"] = request_id


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        extra: dict[str, object] = {
            "request_id": request.get(REQUEST_ID),
            "status": response.status,
            "duration_ms": round(time * 1000, 2),
            "remote": request.remote,
        }
        if fields := request.get(LOG_FIELDS):
            extra.update(fields)
        self.logger.info("%s %s %d", request.method, request.path, response.status, extra=extra)
