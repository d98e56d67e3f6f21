"""Signed-in users at the HTTP edge: which session token a request carries, and what it allows.

A session token comes as ``Authorization: Bearer <JWT>`` or in the ``__session`` cookie
(Clerk's, same site). Wherever a status token works, a session token for the payment's
own customer works too; credentials the caller put in the request on purpose (an API key,
a status token in a header or ``?token=``) win over the cookie the browser adds by itself,
so a signed-in visitor can still follow an anonymous payment with its status token.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from service import errors
from service.db.customers_repo import CustomersRepo
from service.http.auth import has_api_key
from service.identity.jwks import JwksUnavailable
from service.identity.session_tokens import SessionClaims, SessionTokenError, looks_like_jwt
from service.identity.verifier import SessionVerifier
from service.keys import AUTH, DB_POOL, SESSION_VERIFIER, SETTINGS
from service.payments.create_payment import CustomerInfo

SESSION_COOKIE = "__session"


def setup_sessions(app: web.Application) -> None:
    """Session tokens are accepted only when AUTH_JWT_KEY or AUTH_JWKS_URL is set."""
    verifier = SessionVerifier.from_settings(app[SETTINGS])
    if verifier is None:
        return
    app[SESSION_VERIFIER] = verifier

    async def close(app: web.Application) -> None:
        await verifier.close()

    app.on_cleanup.append(close)


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _verify(request: web.Request, token: str) -> SessionClaims:
    verifier = request.app[SESSION_VERIFIER]  # _session_token found none without it
    try:
        return await verifier.verify(token)
    except SessionTokenError as exc:
        raise errors.Unauthenticated(exc.message, code=exc.code) from None
    except JwksUnavailable:
        raise errors.Unavailable(
            "The sign-in provider's keys cannot be fetched; retry shortly.",
            code="session_keys_unavailable",
        ) from None


def _session_token(request: web.Request, explicit: str | None) -> str | None:
    """The session token among `explicit` (what the caller chose to send) and the cookie;
    None when the caller sent another kind of credential, or nothing at all."""
    if SESSION_VERIFIER not in request.app:
        return None  # sessions off: every token is what it was before (status, API key)
    if explicit:
        return explicit if looks_like_jwt(explicit) else None
    return request.cookies.get(SESSION_COOKIE) or None


async def current_user(request: web.Request) -> SessionClaims | None:
    """The signed-in user (Bearer or cookie), or None; a bad session token is 401."""
    if has_api_key(request, request.app[AUTH]):
        return None
    token = _session_token(request, _bearer(request))
    return None if token is None else await _verify(request, token)


async def require_user(request: web.Request) -> SessionClaims:
    user = await current_user(request)
    if user is None:
        raise errors.Unauthenticated(
            "Sign in first: a session token is required (Authorization: Bearer, or the "
            "__session cookie).",
            code="session_token_required",
        )
    return user


async def session_may_read(
    request: web.Request, payment_id: UUID, token: str | None = None
) -> bool:
    """True when a session token of the payment's own customer allows reading it; False
    when the request carries no session token (status tokens and API keys decide);
    Forbidden when it is another customer's payment.

    `token`: the credential a WebSocket subscribe message carries; otherwise the
    X-Status-Token header, ``?token=`` and Bearer are looked at, in that order."""
    if has_api_key(request, request.app[AUTH]):
        return False
    if token is None:
        token = (
            request.headers.get("X-Status-Token") or request.query.get("token") or _bearer(request)
        )
    session = _session_token(request, token)
    if session is None:
        return False
    user = await _verify(request, session)
    async with request.app[DB_POOL].acquire() as conn:
        found, owner = await CustomersRepo(conn).payment_owner(payment_id)
    if found and owner != user.user_id:
        raise errors.Forbidden(
            "This payment belongs to another customer.", code="payment_of_another_customer"
        )
    return True  # a payment that does not exist is the handler's 404


async def bound_customer(request: web.Request, named: CustomerInfo | None) -> CustomerInfo | None:
    """Whom a new payment belongs to: a signed-in user's own customer, whatever the body
    names (its email and name come from the identity provider, not the body); with an
    API key or no session, the customer the body names."""
    user = await current_user(request)
    return named if user is None else CustomerInfo(external_id=user.user_id)
