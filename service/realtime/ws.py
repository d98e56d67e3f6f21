"""``GET /ws``: the live-status WebSocket (DESIGN §5).

Close codes: 4001 bad or missing credentials for a subscription, 4429 too many live
connections for a subscription's status token, 4400 a message that is not the protocol,
4008 too slow, 4000 idle (no subscription for ``ws_idle_seconds``), 1009 a frame over
``ws_max_message_bytes``, 1012 server restarting (reconnect). Too many connections from
one address or API key is a 429 before the upgrade.
"""

from __future__ import annotations

import logging

from aiohttp import WSMsgType, web

from service import errors
from service.http.auth import api_key_identity, check_status_token, has_api_key, reader_name
from service.http.errors import error_response
from service.http.session_auth import session_may_read
from service.keys import AUTH, CONNECTION_LIMITS, HUB, SETTINGS
from service.realtime import protocol
from service.realtime.admit import admit
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


async def websocket(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    hub = request.app[HUB]
    if not origin_allowed(request, settings.cors_origins):
        return error_response(403, "origin_not_allowed", "This origin may not open a socket.")
    if len(hub.clients) >= settings.ws_max_connections:
        return error_response(503, "too_many_connections", "Too many connections; retry.")
    admission = Admission(request.app[CONNECTION_LIMITS])
    over = admit(admission, request, api_key_identity(request, request.app[AUTH]))
    if over is not None:
        return over
    try:
        return await _serve(request, admission)
    finally:
        admission.release()


async def _serve(request: web.Request, admission: Admission) -> web.WebSocketResponse:
    settings = request.app[SETTINGS]
    hub = request.app[HUB]
    ws = web.WebSocketResponse(
        compress=False,
        heartbeat=settings.ws_ping_seconds * 2,
        max_msg_size=settings.ws_max_message_bytes,
    )
    await ws.prepare(request)

    async def send(kind: Kind, version: int | None, text: str) -> None:
        await ws.send_str(text)

    async def close(code: int, reason: str) -> None:
        await ws.close(code=code, message=reason.encode())

    async with hub.connected(send, close) as client:
        await _read_loop(request, ws, client, admission)
    return ws


async def _read_loop(
    request: web.Request, ws: web.WebSocketResponse, client: Subscriber, admission: Admission
) -> None:
    settings = request.app[SETTINGS]
    while not ws.closed and not client.closed.is_set():
        try:
            msg = await ws.receive(timeout=settings.ws_idle_seconds)
        except TimeoutError:
            if not client.versions:
                await client.close(protocol.CLOSE_IDLE, "idle")
                return
            continue
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        if msg.type != WSMsgType.TEXT:
            await _refuse(client, protocol.CLOSE_BAD_MESSAGE, "bad_message", "Text frames only.")
            return
        try:
            message = protocol.parse_client_message(msg.data)
        except protocol.BadMessage as exc:
            await _refuse(client, protocol.CLOSE_BAD_MESSAGE, "bad_message", str(exc))
            return
        if isinstance(message, protocol.Ping):
            client.control(protocol.PONG)
        elif isinstance(message, protocol.Unsubscribe):
            request.app[HUB].unsubscribe(client, message.payment_id)
        elif not await _subscribe(request, client, message, admission):
            return


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
        await client.send("control", None, text)
    finally:
        await client.close(code, error)
