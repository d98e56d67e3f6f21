"""The Clerk stand-in: a sign-in page, RS256 session tokens, a JWKS, and user webhooks.

Enough of Clerk for the demo and the browser tests, offline:

- ``GET /sign-in?redirect_url=…``: a form (email, first and last name). Posting it signs
  the user in (the same email is the same user), sends ``user.created`` or
  ``user.updated`` to the webhook URL, signed with the svix library as Svix signs Clerk's,
  then sends the browser back to ``redirect_url`` with the session token in the fragment
  (``#__session=…``) and in the ``__session`` cookie (cookies ignore ports, so one host
  name shares it). ``Accept: application/json`` answers ``{"token", "user_id"}`` instead.
- ``GET /.well-known/jwks.json``: the public keys; ``POST /rotate`` adds a new signing key.
- ``GET /sign-out?redirect_url=…``: clears the cookie.

Unlike Clerk, tokens live an hour and are not refreshed by a script in the page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from .events import body_of, event, new_message_id, svix_headers, user_object

log = logging.getLogger(__name__)

TOKEN_LIFETIME_SECONDS = 3600
DELIVERY_ATTEMPTS = 5


@dataclass
class ClerkConfig:
    public_url: str  # the issuer (`iss`) and where the sign-in page lives
    webhook_url: str | None = None  # where user.* events go (…/webhooks/clerk)
    webhook_secret: str = field(default_factory=lambda: new_signing_secret())
    allowed_origins: list[str] = field(default_factory=list)  # redirect targets, `azp`
    retry_base: float = 0.5


@dataclass
class User:
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    created_at: int
    updated_at: int


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class ClerkStandIn:
    def __init__(self, config: ClerkConfig) -> None:
        self.config = config
        self.keys: list[tuple[str, rsa.RSAPrivateKey]] = []
        self.users: dict[str, User] = {}  # by email
        self.deliveries: list[tuple[str, int]] = []  # (event type, HTTP status or 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self.rotate()

    def rotate(self) -> str:
        """A new signing key (listed first, used from now on); old keys stay listed."""
        kid = f"ins_key_{secrets.token_hex(6)}"
        self.keys.insert(0, (kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)))
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, private in self.keys:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def session_token(self, user: User, origin: str) -> str:
        kid, private = self.keys[0]
        now = int(time.time())
        claims = {
            "sub": user.id,
            "iss": self.config.public_url,
            "azp": origin,
            "sid": f"sess_{secrets.token_hex(8)}",
            "iat": now,
            "nbf": now - 5,
            "exp": now + TOKEN_LIFETIME_SECONDS,
        }
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})

    def sign_in(self, email: str, first: str | None, last: str | None) -> tuple[User, str | None]:
        """The user (made on first sign-in) and the event to send, if any."""
        now = int(time.time() * 1000)
        user = self.users.get(email.lower())
        if user is None:
            user = User(f"user_{secrets.token_hex(12)}", email, first, last, now, now)
            self.users[email.lower()] = user
            return user, "user.created"
        if (user.first_name, user.last_name) == (first, last):
            return user, None
        user.first_name, user.last_name = first, last
        user.updated_at = max(now, user.updated_at + 1)
        return user, "user.updated"

    async def send(self, kind: str, user: User) -> None:
        """Deliver now; on failure keep retrying in the background, as Svix does."""
        data = user_object(
            user.id,
            user.email,
            user.first_name,
            user.last_name,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )
        body = body_of(event(kind, data, timestamp=user.updated_at))
        message_id = new_message_id()
        if not await self._deliver(kind, message_id, body):
            task = asyncio.create_task(self._retry(kind, message_id, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, kind: str, message_id: str, body: str) -> bool:
        url = self.config.webhook_url
        if url is None:
            return True
        headers = svix_headers(self.config.webhook_secret, message_id, body)
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.post(url, data=body.encode(), headers=headers) as response,
            ):
                self.deliveries.append((kind, response.status))
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Clerk stand-in: delivery of %s failed: %r", kind, exc)
            self.deliveries.append((kind, 0))
            return False

    async def _retry(self, kind: str, message_id: str, body: str) -> None:
        for attempt in range(1, DELIVERY_ATTEMPTS):
            await asyncio.sleep(self.config.retry_base * 2**attempt)
            if await self._deliver(kind, message_id, body):
                return

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


STANDIN = web.AppKey("clerk_standin", ClerkStandIn)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _redirect_target(request: web.Request, raw: str | None) -> str:
    """Only back to an allowed origin: a session token is never sent anywhere else."""
    allowed = request.app[STANDIN].config.allowed_origins
    if not raw or _origin(raw) not in allowed:
        raise web.HTTPBadRequest(text="redirect_url must be on an allowed origin")
    return raw


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Clerk stand-in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;font-size:1rem}}
button{{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}}.muted{{color:#666}}</style>
</head><body>
<h1>Sign in</h1>
<p class="muted">Local stand-in for Clerk (paylive demo): any email signs in; the same
email is the same user.</p>
<form method="post" action="/sign-in" data-testid="sign-in-form">
<input type="hidden" name="redirect_url" value="{redirect}">
<label for="email">Email</label>
<input id="email" name="email" type="email" required data-testid="sign-in-email">
<label for="first_name">First name</label>
<input id="first_name" name="first_name" data-testid="sign-in-first-name">
<label for="last_name">Last name</label>
<input id="last_name" name="last_name" data-testid="sign-in-last-name">
<button type="submit" data-testid="sign-in-submit">Continue</button>
</form></body></html>"""


async def sign_in_page(request: web.Request) -> web.Response:
    target = _redirect_target(request, request.query.get("redirect_url"))
    return web.Response(
        text=_PAGE.format(redirect=html.escape(target, quote=True)), content_type="text/html"
    )


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip()[:200] or None if isinstance(value, str) else None


async def sign_in(request: web.Request) -> web.Response:
    standin = request.app[STANDIN]
    form = await request.post()
    target = _redirect_target(request, _field(form, "redirect_url"))
    email = _field(form, "email")
    if email is None or "@" not in email:
        raise web.HTTPBadRequest(text="an email address is required")
    user, kind = standin.sign_in(email, _field(form, "first_name"), _field(form, "last_name"))
    if kind is not None:
        await standin.send(kind, user)
    token = standin.session_token(user, _origin(target))
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"token": token, "user_id": user.id})
    response = web.HTTPSeeOther(f"{target.split('#')[0]}#__session={token}")
    response.set_cookie("__session", token, path="/", samesite="Lax", max_age=3600)
    raise response


async def sign_out(request: web.Request) -> web.Response:
    target = _redirect_target(request, request.query.get("redirect_url"))
    response = web.HTTPSeeOther(target)
    response.del_cookie("__session", path="/")
    raise response


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[STANDIN].jwks())


async def rotate(request: web.Request) -> web.Response:
    return web.json_response({"kid": request.app[STANDIN].rotate()})


def create_clerk_app(config: ClerkConfig) -> web.Application:
    app = web.Application()
    app[STANDIN] = ClerkStandIn(config)
    app.router.add_get("/sign-in", sign_in_page)
    app.router.add_post("/sign-in", sign_in)
    app.router.add_get("/sign-out", sign_out)
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_post("/rotate", rotate)

    async def close(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[STANDIN].close()

    app.cleanup_ctx.append(close)
    return app
