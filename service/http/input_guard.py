"""Every request's path, query and headers hold only storable text, or it is answered 400.

aiohttp decodes undecodable header bytes as lone surrogates and ``%00`` as NUL; neither
may reach a comparison that encodes, a log line, or PostgreSQL. Checked once here, for
every route, rather than at each place a value is read.
"""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web
from aiohttp.typedefs import Handler

from service.http.errors import error_response
from service.http.parsing import HostileInput, check_text


def _check(request: web.Request) -> None:
    check_text(request.path, "the path")
    # Only when there is a query: request.query builds (and keeps) a MultiDict, which a
    # socket would carry for its whole life.
    for name, value in request.query.items() if request.query_string else ():
        check_text(name, "a query parameter name")
        check_text(value, f"query parameter {name!r}")
    for name, value in request.headers.items():
        check_text(value, f"header {name!r}")


async def _answer(response: web.StreamResponse) -> web.StreamResponse:
    return response


@web.middleware
def input_guard_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """A plain function, not a coroutine: it hands on the handler's awaitable, so a
    request that lasts (a WebSocket, an event stream) keeps no frame of it alive."""
    try:
        _check(request)
    except HostileInput as exc:
        return _answer(error_response(400, exc.code, exc.message))
    return handler(request)
