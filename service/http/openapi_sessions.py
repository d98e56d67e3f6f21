"""The OpenAPI security schemes of a signed-in user's session token (Bearer or cookie)."""

from __future__ import annotations

from typing import Any

SESSION_BEARER = "SessionToken"
SESSION_COOKIE = "SessionCookie"

SESSION_SCHEMES: dict[str, dict[str, Any]] = {
    SESSION_BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A signed-in user's session token (RS256/ES256 JWT, e.g. Clerk's): "
        "`Authorization: Bearer <JWT>`; where a status token is accepted (X-Status-Token, "
        "`?token=`, a WebSocket subscribe message) a session token is accepted too.",
    },
    SESSION_COOKIE: {
        "type": "apiKey",
        "in": "cookie",
        "name": "__session",
        "description": "The same session token in Clerk's `__session` cookie (same site).",
    },
}
SESSION = (SESSION_BEARER, SESSION_COOKIE)
