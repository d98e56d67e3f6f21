"""``X-Request-ID``: taken from the caller when sane, made otherwise, echoed and logged."""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from service.keys import LOG_FIELDS, REQUEST_ID
from service.logs import request_id_var

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _SANE.match(given) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-ID"] = request_id
        raise
    finally:
        request_id_var.reset(token)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response


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
