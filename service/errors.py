"""Every error the service answers with, each defined once: its code, HTTP status, message.

``service/http/errors.py`` renders any ``ServiceError`` from these attributes; there is no
other table of statuses. The gateway raises the ``Gateway*`` errors directly (chosen in
``service/stripe_errors.py``), so a Stripe failure becomes our answer in one step.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base: a stable machine ``code``, the ``http_status`` it is answered with, a human
    ``message``, optional ``details`` and ``retry_after`` (seconds, sent as Retry-After)."""

    code = "error"
    http_status = 500
    retry_after: int | None = None

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class InvalidInput(ServiceError):
    """The request is well-formed but its content breaks a rule."""

    code = "invalid_request"
    http_status = 422


class NotFound(ServiceError):
    code = "not_found"
    http_status = 404


class Conflict(ServiceError):
    code = "conflict"
    http_status = 409


class Unauthenticated(ServiceError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(ServiceError):
    code = "forbidden"
    http_status = 403


class Unavailable(ServiceError):
    """A dependency cannot be reached right now, or this process is full."""

    code = "unavailable"
    http_status = 503


class DatabaseUnavailable(Unavailable):
    """PostgreSQL cannot be reached (stopped, restarting, refusing connections)."""

    code = "database_unavailable"
    retry_after = 1

    def __init__(self, message: str = "The database is unavailable; retry shortly.") -> None:
        super().__init__(message)


# Stripe ------------------------------------------------------------------------------------


class GatewayError(ServiceError):
    """Stripe refused or failed in a way the caller cannot fix. Keeps what Stripe said:
    ``stripe_code``, ``decline_code``, ``param``, ``stripe_status`` (Stripe's HTTP status,
    None when no answer came), ``request_id`` and ``stripe_message``."""

    code = "stripe_error"
    http_status = 502

    def __init__(
        self,
        stripe_message: str,
        *,
        stripe_code: str | None = None,
        decline_code: str | None = None,
        param: str | None = None,
        stripe_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        details: dict[str, Any] = {"stripe_request_id": request_id}
        if stripe_code:
            details["stripe_code"] = stripe_code
        if param:
            details["param"] = param
        super().__init__(self._public_message(stripe_message), details=details)
        self.stripe_message = stripe_message
        self.stripe_code = stripe_code
        self.decline_code = decline_code
        self.param = param
        self.stripe_status = stripe_status
        self.request_id = request_id

    def _public_message(self, stripe_message: str) -> str:
        """What the caller reads; Stripe's own text unless the subclass knows better."""
        return stripe_message


class GatewayCardError(GatewayError):
    """Stripe declined the card."""

    code = "card_declined"
    http_status = 402

    def __init__(self, stripe_message: str, **stripe: Any) -> None:
        super().__init__(stripe_message, **stripe)
        self.details["decline_code"] = self.decline_code


class GatewayInvalidRequest(GatewayError):
    """Stripe refused the parameters (a 4xx other than auth, rate limit or in-flight)."""

    code = "stripe_invalid_request"
    http_status = 422

    def _public_message(self, stripe_message: str) -> str:
        return f"Stripe refused the request: {stripe_message}"


class GatewayInProgress(GatewayError):
    """Stripe's 409 ``idempotency_key_in_use``: a request with the same idempotency key is
    still running there. Nothing is wrong with the request and the outcome is not known
    yet, so it is 409 with Retry-After, exactly what our own API answers while a request
    with the caller's Idempotency-Key is in flight (``http/idempotency.py``); not 503,
    Stripe is up and answering. The payment or refund row is kept for the retry."""

    code = "stripe_request_in_progress"
    http_status = 409
    retry_after = 1

    def _public_message(self, stripe_message: str) -> str:
        return "Another request is creating this with Stripe right now; retry shortly."


class GatewayAuthError(GatewayError):
    """Our Stripe key was refused (401/403): an operator problem, not the caller's."""

    code = "stripe_auth_error"

    def _public_message(self, stripe_message: str) -> str:
        return "The payment provider refused our credentials."


class GatewayUnavailable(GatewayError):
    """Stripe could not be reached, timed out, rate-limited us or answered 5xx after every
    retry."""

    code = "stripe_unavailable"
    http_status = 503

    def _public_message(self, stripe_message: str) -> str:
        return "The payment provider is unavailable; retry with the same Idempotency-Key."
