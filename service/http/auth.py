"""Who may call: API keys for servers, status tokens and order tokens for browsers.

Every comparison is constant-time, every key is checked (no early exit), and no
credential ever reaches a log line or an error message.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

from aiohttp import web

from service import errors
from service.config import Settings
from service.tokens import TokenError, issue_status_token, verify_order_token, verify_status_token


@dataclass(frozen=True)
class AuthConfig:
    api_keys: tuple[bytes, ...]
    status_secret: bytes
    status_ttl_seconds: int
    order_secret: bytes | None
    allow_anonymous_create: bool

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
        )

    def issue_status_token(self, payment_id: UUID) -> str:
        return issue_status_token(
            self.status_secret, str(payment_id), int(time.time()), self.status_ttl_seconds
        )


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def has_api_key(request: web.Request, auth: AuthConfig) -> bool:
    given = _bearer(request)
    if given is None:
        return False
    presented = given.encode()
    matched = False
    for key in auth.api_keys:
        matched |= hmac.compare_digest(presented, key)
    return matched


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


def check_status_token(auth: AuthConfig, token: str, payment_id: UUID) -> None:
    try:
        verify_status_token(auth.status_secret, token, str(payment_id), int(time.time()))
    except TokenError as exc:
        if exc.code == "token_wrong_payment":
            raise errors.Forbidden("This token is for another payment.", code=exc.code) from None
        raise errors.Unauthenticated(exc.message, code=exc.code) from None


def authorize_create(
    request: web.Request, auth: AuthConfig, order_id: str, amount: int, currency: str
) -> None:
    """An API key; or an order token from the app's backend fixing order, amount and currency;
    or, in the demo only, nothing."""
    if has_api_key(request, auth):
        return
    order_token = request.headers.get("X-Order-Token")
    if order_token and auth.order_secret is not None:
        try:
            claims = verify_order_token(auth.order_secret, order_token, int(time.time()))
        except TokenError as exc:
            raise errors.Unauthenticated(exc.message, code=exc.code) from None
        if (claims.order_id, claims.amount, claims.currency) != (
            order_id,
            amount,
            currency.lower(),
        ):
            raise errors.Forbidden(
                "The order token does not match this order's id, amount and currency.",
                code="order_token_mismatch",
            )
        return
    if auth.allow_anonymous_create and _bearer(request) is None:
        return
    if _bearer(request) is not None:
        raise errors.Unauthenticated("The API key is not valid.", code="api_key_invalid")
    raise errors.Unauthenticated(
        "Creating a payment needs an API key or an order token (X-Order-Token).",
        code="credentials_required",
    )
