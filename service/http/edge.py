"""The middleware around every handler: the request id, the error answer and the
request's metrics.

They were three middlewares, each a coroutine awaiting the next. A handler that lasts (a
WebSocket: hours) keeps every middleware coroutine of its request alive as long as it
runs, ~300 bytes each per socket. Now the request id is set by a plain function, and the
error answer and the metrics share one coroutine (``_around``); a lasting handler (the
WebSocket, named by create_app) gets none: it does the same in its own frame, with
``Counted`` and ``error_answer``. Each part's work stays in its module (``request_id``,
``errors``, ``metrics``), run in the order the middlewares ran: metrics outermost (they
count the status the error answer gave), then the request id (the error answer's log
lines carry it), then the error answer. The inner middlewares (``input_guard``,
``idempotency``) are plain functions too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Collection

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service.http.errors import error_answer
from service.http.metrics import METRICS, Metrics
from service.http.request_id import request_ids
from service.logs import request_id_var


class Counted:
    """One request's metrics: its status (500 until it answers) and how long it took,
    observed by ``done``."""

    __slots__ = ("metrics", "request", "started", "status")

    def __init__(self, request: web.Request, metrics: Metrics | None = None) -> None:
        self.metrics = metrics if metrics is not None else request.app[METRICS]
        self.request = request
        self.started = time.perf_counter()
        self.status = 500

    def answer(self, response: web.StreamResponse) -> web.StreamResponse:
        self.status = response.status
        return response

    def raised(self, exc: BaseException) -> None:
        """What left the handler instead of an answer."""
        if isinstance(exc, web.HTTPException):
            self.status = exc.status
        elif isinstance(exc, asyncio.CancelledError):
            self.status = 499  # the client went away first (nginx's code for it)

    def done(self) -> None:
        self.metrics.observe_request(self.request, self.status, time.perf_counter() - self.started)


def edge_middleware(metrics: Metrics, lasting: Collection[Handler] = ()) -> Middleware:
    """`lasting`: the handlers that run as long as their connection (the WebSocket's) and
    count and answer for themselves (``Counted``, ``error_answer``): the edge keeps no
    coroutine around them."""
    request_id = request_ids()
    lasting = frozenset(lasting)

    @web.middleware
    def edge(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        """A plain function: it hands on an awaitable, so nothing of it stays alive."""
        # Set, not reset: the context is this request's task's own (see request_id).
        request_id_var.set(request_id(request))
        if request.match_info.handler in lasting:
            return handler(request)
        return _around(request, handler, metrics)

    return edge


async def _around(request: web.Request, handler: Handler, metrics: Metrics) -> web.StreamResponse:
    counted = Counted(request, metrics)
    try:
        try:
            return counted.answer(await handler(request))
        except Exception as exc:
            answer = error_answer(request, exc)
            if answer is None:
                raise
            return counted.answer(answer)
    except BaseException as exc:
        counted.raised(exc)
        raise
    finally:
        counted.done()
