"""Every request's path, query and headers hold only storable text, or it is answered 400.

aiohttp decodes undecodable header bytes as lone surrogates and ``%00`` as NUL; neither
may reach a comparison that encodes, a log line, or PostgreSQL. Checked once here, for
every route, rather than at each place a value is read.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from service.http.errors import error_response
from service.http.parsing import HostileInput, check_text


def _check(request: web.Request) -> None:
    check_text(request.path, "the path")
    for name, value in request.query.items():
        check_text(name, "a query parameter name")
        check_text(value, f"query parameter {name!r}")
    for name, value in request.headers.items():
        check_text(value, f"header {name!r}")


@web.middleware
async def input_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        _check(request)
    except HostileInput as exc:
        return error_response(400, exc.code, exc.message)
    return await handler(request)
