"""``GET /ws``: the live-status WebSocket (DESIGN §5).

Close codes: 4001 bad or missing credentials for a subscription, 4429 too many live
connections for a subscription's status token, 4400 a message that is not the protocol,
4008 too slow, 4000 idle (no subscription for ``ws_idle_seconds``), 1009 a frame over
``ws_max_message_bytes``, 1012 server restarting (reconnect). Too many connections from
one address or API key is a 429 before the upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from aiohttp import WSMessage, WSMsgType, web

from service import errors
from service.http.auth import api_key_identity, check_status_token, has_api_key, reader_name
from service.http.edge import Counted
from service.http.errors import error_answer, error_response
from service.http.session_auth import session_may_read
from service.keys import AUTH, CONNECTION_LIMITS, HUB, SETTINGS
from service.realtime import protocol
from service.realtime.admit import admit
from service.realtime.frames import BUFFER_LIMIT, FRAMES, text_frame
from service.realtime.limits import Admission
from service.realtime.subscriber import Kind, Subscriber

log = logging.getLogger(__name__)


def origin_allowed(request: web.Request, allowed: list[str]) -> bool:
    """Browsers send Origin; only configured origins (or our own) may open a socket."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: every subscription still needs a credential
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in allowed


class _Socket:
    """One client's WebSocket as the hub's subscriber writes to it (its ``Link``)."""

    __slots__ = ("transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.ws = ws
        self.transport = transport

    async def send(self, kind: Kind, version: int | None, text: str) -> None:
        await self.ws.send_str(text)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode())

    def write_now(self, kind: Kind, text: str) -> bool:
        """The frame straight into the transport, unless the client is behind (then
        ``send`` waits for its buffer to drain). An update's or a ping's frame is built
        once per text for every socket; a snapshot's or a control message's text is this
        client's alone, so its frame is not cached (a burst of subscriptions, a
        reconnect storm after a restart, would fill the cache with frames nobody shares,
        and push out the ones fan-out does)."""
        transport = self.transport
        if (
            self.ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() > BUFFER_LIMIT
        ):
            return False
        shared = kind == "update" or kind == "ping"
        transport.write(FRAMES.frame(text) if shared else text_frame(text))
        return True


def _abort_when_unacknowledged(transport: asyncio.Transport, seconds: float) -> None:
    """Let the kernel drop a peer that stopped acknowledging what we send (gone without
    a FIN): our pings every ``ws_ping_seconds`` then find it out within twice that. This
    replaces aiohttp's heartbeat, whose timers and callbacks cost every idle socket
    memory and left a reference cycle behind each closed one (see gc_tuning)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and hasattr(socket, "TCP_USER_TIMEOUT"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(seconds * 1000))


async def websocket(request: web.Request) -> web.StreamResponse:
    """Admission, the handshake, then the client's messages until it leaves: all in one
    coroutine frame, which lives as long as the socket (each further one would cost every
    idle socket ~300 bytes). So this frame also does what the edge middleware's coroutine
    does for other requests (a lasting handler: service/http/edge.py, service/app.py):
    the request's metrics and the error answer for what is raised."""
    counted = Counted(request)
    admission = Admission(request.app[CONNECTION_LIMITS])
    try:
        try:
            refusal = _refusal(request, admission)
            if refusal is not None:
                return counted.answer(refusal)
            settings = request.app[SETTINGS]
            ws = web.WebSocketResponse(compress=False, max_msg_size=settings.ws_max_message_bytes)
            await ws.prepare(request)
            _drop_sent_headers(ws)
            transport = request.transport
            if transport is None:
                return counted.answer(ws)  # gone during the handshake
            _abort_when_unacknowledged(transport, settings.ws_ping_seconds * 2)
            hub = request.app[HUB]
            client = hub.attach(_Socket(ws, transport))
            try:
                while not ws.closed and not client.closed.is_set():
                    try:
                        # No timer while subscribed: only a client without subscriptions idles.
                        timeout = None if client.versions else settings.ws_idle_seconds
                        msg = await ws.receive(timeout=timeout)
                    except TimeoutError:
                        if not client.versions:
                            await client.close(protocol.CLOSE_IDLE, "idle")
                            break
                        continue
                    go_on = await _handle(request, client, msg, admission)
                    del msg  # not kept while the socket waits for its next message
                    if not go_on:
                        break
            finally:
                await hub.leave(client)
                _drop_tracebacks(ws.exception())
            return counted.answer(ws)
        except Exception as exc:
            answer = error_answer(request, exc)
            if answer is None:
                raise
            return counted.answer(answer)
    except BaseException as exc:
        counted.raised(exc)
        raise
    finally:
        admission.release()
        counted.done()


def _refusal(request: web.Request, admission: Admission) -> web.Response | None:
    """Why this socket may not open, if it may not; else its admission holds its slots."""
    settings = request.app[SETTINGS]
    if not origin_allowed(request, settings.cors_origins):
        return error_response(403, "origin_not_allowed", "This origin may not open a socket.")
    if len(request.app[HUB].clients) >= settings.ws_max_connections:
        return error_response(503, "too_many_connections", "Too many connections; retry.")
    return admit(admission, request, api_key_identity(request, request.app[AUTH]))


def _drop_sent_headers(ws: web.WebSocketResponse) -> None:
    """The handshake's headers are on the wire once ``prepare`` returns, and nothing reads
    them again; the response object lives as long as the socket, and its six headers
    (Date, Server, the accept key, the request id...) cost every idle socket ~450 bytes."""
    ws.headers.clear()


def _drop_tracebacks(exc: BaseException | None) -> None:
    """aiohttp keeps a failed close's or read's exception on the response, and its
    traceback's frames hold the response: a reference cycle around every socket that
    closed that way. Our sockets are frozen (gc_tuning), so the collector would never
    free it; without the traceback, reference counting does."""
    seen = 0
    while exc is not None and seen < 8:
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__
        seen += 1


async def _handle(
    request: web.Request, client: Subscriber, msg: WSMessage, admission: Admission
) -> bool:
    """One message from the client; False when the connection is done with."""
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return False
    if msg.type != WSMsgType.TEXT:
        await _refuse(client, protocol.CLOSE_BAD_MESSAGE, "bad_message", "Text frames only.")
        return False
    try:
        message = protocol.parse_client_message(msg.data)
    except protocol.BadMessage as exc:
        await _refuse(client, protocol.CLOSE_BAD_MESSAGE, "bad_message", str(exc))
        return False
    if isinstance(message, protocol.Ping):
        client.control(protocol.PONG)
    elif isinstance(message, protocol.Unsubscribe):
        request.app[HUB].unsubscribe(client, message.payment_id)
    else:
        return await _subscribe(request, client, message, admission)
    return True


async def _subscribe(
    request: web.Request, client: Subscriber, msg: protocol.Subscribe, admission: Admission
) -> bool:
    """False when the connection was closed for it."""
    auth = request.app[AUTH]
    if not has_api_key(request, auth):
        try:
            if not await session_may_read(request, msg.payment_id, msg.token or ""):
                if not msg.token:
                    raise errors.Unauthenticated(
                        "A status token is required.", code="token_required"
                    )
                check_status_token(auth, msg.token, msg.payment_id)
        except (errors.Unauthenticated, errors.Forbidden, errors.Unavailable) as exc:
            await _refuse(client, protocol.CLOSE_AUTH, exc.code, exc.message, msg)
            return False
        # A status token's connections count against the payment it is for.
        if not admission.take_token(reader_name(request, auth, msg.payment_id)):
            await _refuse(
                client,
                protocol.CLOSE_TOO_MANY,
                "too_many_connections",
                "Too many live connections for this payment's status token.",
                msg,
            )
            return False
    hub = request.app[HUB]
    limit = request.app[SETTINGS].ws_max_subscriptions
    if msg.payment_id not in client.versions and len(client.versions) >= limit:
        client.control(
            protocol.error_message(
                "too_many_subscriptions",
                f"At most {limit} subscriptions per connection.",
                msg.payment_id,
            )
        )
        return True
    if not await hub.subscribe(client, msg.payment_id, msg.since_version):
        client.control(
            protocol.error_message("payment_not_found", "No such payment.", msg.payment_id)
        )
    return True


async def _refuse(
    client: Subscriber,
    code: int,
    error: str,
    message: str,
    msg: protocol.Subscribe | None = None,
) -> None:
    """Say why in an error message, then close with the documented code."""
    text = protocol.error_message(error, message, msg.payment_id if msg else None)
    try:
        await client.link.send("control", None, text)
    finally:
        await client.close(code, error)
