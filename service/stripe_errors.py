"""stripe-python's exceptions turned into the service's ``Gateway*`` errors, in one step.

The error classes (``service/errors.py``) carry their own code and HTTP status, so what is
decided here is only which one a Stripe failure is.
"""

from __future__ import annotations

from typing import Any

import stripe

from service.errors import (
    GatewayAuthError,
    GatewayCardError,
    GatewayError,
    GatewayInProgress,
    GatewayInvalidRequest,
    GatewayUnavailable,
)

# Stripe's 409 codes that mean "try again shortly" rather than "this request is wrong".
_IN_PROGRESS = "idempotency_key_in_use"
_LOCKED = "lock_timeout"


def gateway_error(exc: stripe.StripeError) -> GatewayError:
    body = exc.json_body.get("error") if isinstance(exc.json_body, dict) else None
    details: dict[str, Any] = body if isinstance(body, dict) else {}
    code = exc.code or details.get("code")
    fields: dict[str, Any] = {
        "stripe_code": code,
        "param": details.get("param"),
        "stripe_status": exc.http_status,
        "request_id": exc.request_id,
    }
    message = exc.user_message or details.get("message") or type(exc).__name__
    if code == _IN_PROGRESS:
        # Whatever class stripe-python chose (IdempotencyError or a 409 APIError).
        return GatewayInProgress(message, **fields)
    if isinstance(exc, stripe.CardError):
        return GatewayCardError(message, decline_code=details.get("decline_code"), **fields)
    if isinstance(exc, stripe.InvalidRequestError | stripe.IdempotencyError):
        return GatewayInvalidRequest(message, **fields)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return GatewayAuthError(message, **fields)
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return GatewayUnavailable(message, **fields)
    if isinstance(exc, stripe.APIError):
        # stripe-python raises APIError for 409 and for bodies it cannot parse too.
        status = exc.http_status
        if status in (401, 403):
            return GatewayAuthError(message, **fields)
        if status == 409 and code == _LOCKED:
            return GatewayUnavailable(message, **fields)
        if status is not None and 400 <= status < 500 and status != 429:
            return GatewayInvalidRequest(message, **fields)
        return GatewayUnavailable(message, **fields)
    return GatewayError(message, **fields)
