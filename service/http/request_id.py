"""``X-Request-ID``: taken from the caller when sane, made otherwise, echoed and logged.

A request's id lives in ``request_id_var`` for as long as the request's task runs:
aiohttp runs every request in a task of its own, with a copy of the context, so the id
is set once (``edge_middleware``) and goes with the task. Nothing is kept on the request
itself: a WebSocket's request lives as long as the socket.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from multidict import istr

from service.keys import LOG_FIELDS
from service.logs import request_id_var

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# One header name for every answer (a plain str would be copied into a new istr each time).
HEADER = istr("X-Request-ID")


def request_ids() -> Callable[[web.BaseRequest], str]:
    """Made once per app: the id of a request. Ids it makes are a random prefix and a
    counter: unique across processes without a call to os.urandom per request (uuid4
    was 1% of a webhook)."""
    prefix = secrets.token_hex(8)
    counter = itertools.count(1)

    def request_id(request: web.BaseRequest) -> str:
        given = request.headers.get(HEADER, "")
        return given if _SANE.match(given) else f"{prefix}{next(counter):016x}"

    return request_id


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer carries the id, streamed ones (SSE, the
    WebSocket upgrade) and error pages included, whoever prepared them."""
    request_id = request_id_var.get()
    if request_id is not None:
        response.headers[HEADER] = request_id


class JsonAccessLogger(AbstractAccessLogger):
    __slots__ = ()  # one per connection

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # Called from the request's own task (aiohttp's finish_response), so the id is there.
        extra: dict[str, object] = {
            "request_id": request_id_var.get(),
            "status": response.status,
            "duration_ms": round(time * 1000, 2),
            "remote": request.remote,
        }
        if fields := request.get(LOG_FIELDS):
            extra.update(fields)
        self.logger.info("%s %s %d", request.method, request.path, response.status, extra=extra)
