"""``GET /api/payments/{id}/stream``: the same stream as Server-Sent Events.

Each snapshot/update is an event whose id is the payment version, so a browser's
EventSource resumes with ``Last-Event-ID`` after a reconnect; ``?since_version=`` does
the same for clients that set it themselves. Pings are SSE comments.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from service import errors
from service.http.auth import authorize_read, reader_name
from service.http.parsing import parse_int
from service.http.session_auth import session_may_read
from service.keys import AUTH, CONNECTION_LIMITS, HUB, SETTINGS
from service.realtime.admit import admit
from service.realtime.limits import Admission
from service.realtime.subscriber import Kind


def _since(request: web.Request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("since_version") or "0"
    since = parse_int(raw)
    if since is None:
        raise errors.InvalidInput(
            "Last-Event-ID / since_version must be a version number.", code="invalid_since_version"
        )
    return since


async def stream(request: web.Request) -> web.StreamResponse:
    try:
        payment_id = UUID(request.match_info["payment_id"])
    except ValueError:
        raise errors.NotFound("No such payment.", code="payment_not_found") from None
    if not await session_may_read(request, payment_id):
        authorize_read(request, request.app[AUTH], payment_id)
    since = _since(request)
    settings = request.app[SETTINGS]
    hub = request.app[HUB]
    if len(hub.clients) >= settings.ws_max_connections:
        raise errors.Unavailable("Too many connections; retry.", code="too_many_connections")
    admission = Admission(request.app[CONNECTION_LIMITS])
    over = admit(admission, request, reader_name(request, request.app[AUTH], payment_id))
    if over is not None:
        return over
    try:
        return await _serve(request, payment_id, since)
    finally:
        admission.release()


async def _serve(request: web.Request, payment_id: UUID, since: int) -> web.StreamResponse:
    hub = request.app[HUB]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)

    async def send(kind: Kind, version: int | None, text: str) -> None:
        if kind == "ping":
            await response.write(b": ping\n\n")
            return
        head = f"event: {kind if kind != 'control' else 'error'}\n"
        if version is not None:
            head += f"id: {version}\n"
        await response.write(f"{head}data: {text}\n\n".encode())

    async def close(code: int, reason: str) -> None:
        if request.transport is not None:
            request.transport.close()

    async with hub.connected(send, close) as client:
        if await hub.subscribe(client, payment_id, since):
            await client.closed.wait()
    return response
