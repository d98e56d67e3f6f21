"""Domain errors. They say what went wrong; ``service/http/errors.py`` picks the status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base: a stable machine ``code``, a human ``message`` and optional ``details``."""

    code = "error"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class InvalidInput(ServiceError):
    """The request is well-formed but its content breaks a rule (422)."""

    code = "invalid_request"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Unauthenticated(ServiceError):
    code = "unauthenticated"


class Forbidden(ServiceError):
    code = "forbidden"


class UpstreamError(ServiceError):
    """Stripe refused or failed in a way the caller cannot fix (502)."""

    code = "stripe_error"


class Unavailable(ServiceError):
    """A dependency (database, Stripe) cannot be reached right now (503)."""

    code = "unavailable"


class CardDeclined(ServiceError):
    """Stripe declined the card (402)."""

    code = "card_declined"
