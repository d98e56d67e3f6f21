"""Who may call: API keys for servers, status tokens and order tokens for browsers.

Every comparison is constant-time, every key is checked (no early exit), and no
credential ever reaches a log line or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from aiohttp import web

from service import errors
from service.config import Settings
from service.identity.session_tokens import looks_like_jwt
from service.tokens import (
    OrderClaims,
    TokenError,
    issue_status_token,
    verify_order_token,
    verify_status_token,
)


@dataclass(frozen=True)
class AuthConfig:
    api_keys: tuple[bytes, ...]
    status_secret: bytes
    status_ttl_seconds: int
    order_secret: bytes | None
    allow_anonymous_create: bool
    session_tokens: bool = False  # signed-in users' JWTs are verified (service/identity/)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        status = settings.status_token_secret
        order = settings.order_token_secret
        return cls(
            api_keys=tuple(k.get_secret_value().encode() for k in settings.api_keys),
            # Unset: a per-process secret, fine for one process; set it when running several.
            status_secret=status.get_secret_value().encode() if status else secrets.token_bytes(32),
            status_ttl_seconds=settings.status_token_ttl_seconds,
            order_secret=order.get_secret_value().encode() if order else None,
            allow_anonymous_create=settings.allow_anonymous_create,
            session_tokens=bool(settings.auth_jwks_url or settings.auth_jwt_key),
        )

    def issue_status_token(self, payment_id: UUID) -> str:
        return issue_status_token(
            self.status_secret, str(payment_id), int(time.time()), self.status_ttl_seconds
        )


@dataclass(frozen=True)
class Caller:
    """Who is creating a payment. ``identity`` names the caller's idempotency key space
    (never the credential itself); anonymous callers (the demo) have none."""

    kind: Literal["api_key", "order_token", "anonymous"]
    identity: str | None
    order: OrderClaims | None = None

    @property
    def is_browser(self) -> bool:
        return self.kind != "api_key"


def _digest(*parts: str) -> str:
    """A stable name for a credential's holder; a hash, so no secret is stored or logged."""
    joined = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()[:32]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _matching_api_key(request: web.Request, auth: AuthConfig) -> bytes | None:
    given = _bearer(request)
    if given is None:
        return None
    presented = given.encode("utf-8", "surrogatepass")
    found: bytes | None = None
    for key in auth.api_keys:  # every key compared: timing does not say which matched
        if hmac.compare_digest(presented, key):
            found = key
    return found


def has_api_key(request: web.Request, auth: AuthConfig) -> bool:
    return _matching_api_key(request, auth) is not None


def api_key_identity(request: web.Request, auth: AuthConfig) -> str | None:
    key = _matching_api_key(request, auth)
    return None if key is None else "apikey:" + _digest(key.decode())


def require_api_key(request: web.Request, auth: AuthConfig) -> None:
    if has_api_key(request, auth):
        return
    if _bearer(request) is None:
        raise errors.Unauthenticated(
            "An API key is required (Authorization: Bearer).", code="api_key_required"
        )
    raise errors.Unauthenticated("The API key is not valid.", code="api_key_invalid")


def authorize_read(request: web.Request, auth: AuthConfig, payment_id: UUID) -> None:
    """An API key, or the payment's status token (Bearer, X-Status-Token or ?token=)."""
    if has_api_key(request, auth):
        return
    token = request.headers.get("X-Status-Token") or request.query.get("token") or _bearer(request)
    if not token:
        raise errors.Unauthenticated(
            "A status token or API key is required.", code="credentials_required"
        )
    check_status_token(auth, token, payment_id)


def reader_name(request: web.Request, auth: AuthConfig, payment_id: UUID) -> str:
    """Whose live connection this is, once ``authorize_read`` has passed: the API key's
    holder, or the payment's status-token holders (every token for one payment is one
    holder, so minting more tokens buys no more connections)."""
    return api_key_identity(request, auth) or f"payment:{payment_id}"


def check_status_token(auth: AuthConfig, token: str, payment_id: UUID) -> None:
    try:
        verify_status_token(auth.status_secret, token, str(payment_id), int(time.time()))
    except TokenError as exc:
        if exc.code == "token_wrong_payment":
            raise errors.Forbidden("This token is for another payment.", code=exc.code) from None
        raise errors.Unauthenticated(exc.message, code=exc.code) from None


def authenticate_create(request: web.Request, auth: AuthConfig) -> Caller:
    """An API key; or an order token from the app's backend; or, in the demo only, nothing.

    A Bearer credential that is not a valid key is refused even next to a valid order
    token: a request means one caller, not whichever of its credentials happens to work."""
    api_key = api_key_identity(request, auth)
    if api_key is not None:
        return Caller("api_key", api_key)
    # A signed-in user's session token may stand beside the order token (it is verified
    # by ``bound_customer``); any other Bearer credential is a bad API key.
    session = _bearer(request)
    if session is not None and not (auth.session_tokens and looks_like_jwt(session)):
        raise errors.Unauthenticated("The API key is not valid.", code="api_key_invalid")
    order_token = request.headers.get("X-Order-Token")
    if order_token and auth.order_secret is not None:
        try:
            claims = verify_order_token(auth.order_secret, order_token, int(time.time()))
        except TokenError as exc:
            raise errors.Unauthenticated(exc.message, code=exc.code) from None
        identity = "order:" + _digest(claims.order_id, claims.customer or "")
        if session is not None:  # its own key space: no replay to another (or a forged) JWT
            identity += ":session:" + _digest(session)
        return Caller("order_token", identity, claims)
    if auth.allow_anonymous_create:
        return Caller("anonymous", None)
    raise errors.Unauthenticated(
        "Creating a payment needs an API key or an order token (X-Order-Token).",
        code="credentials_required",
    )


def caller_identity(request: web.Request, auth: AuthConfig) -> str | None:
    """The authenticated identity of a POST's caller, or None (anonymous, or credentials
    that do not authenticate: the handler answers those itself)."""
    try:
        return authenticate_create(request, auth).identity
    except errors.ServiceError:
        return None


def authorize_create(
    request: web.Request, auth: AuthConfig, order_id: str, amount: int, currency: str
) -> Caller:
    """The caller, if it may create this order: an order token fixes order, amount and
    currency (and the customer: see ``bound_customer``)."""
    caller = authenticate_create(request, auth)
    claims = caller.order
    if claims is not None and (claims.order_id, claims.amount, claims.currency) != (
        order_id,
        amount,
        currency.lower(),
    ):
        raise errors.Forbidden(
            "The order token does not match this order's id, amount and currency.",
            code="order_token_mismatch",
        )
    return caller
