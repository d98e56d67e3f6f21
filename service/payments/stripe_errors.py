"""Gateway errors turned into the service's own: 402 / 422 / 409 / 502 / 503 with clear codes."""

from __future__ import annotations

from typing import NoReturn

from service import errors
from service.payments.ports import (
    GatewayAuthError,
    GatewayCardError,
    GatewayError,
    GatewayInvalidRequest,
    GatewayUnavailable,
)


def raise_for_gateway_error(exc: GatewayError) -> NoReturn:
    details: dict[str, object] = {"stripe_request_id": exc.request_id}
    if exc.code:
        details["stripe_code"] = exc.code
    if exc.param:
        details["param"] = exc.param
    if isinstance(exc, GatewayCardError):
        details["decline_code"] = exc.decline_code
        raise errors.CardDeclined(exc.message, details=details) from exc
    if isinstance(exc, GatewayInvalidRequest):
        if exc.code == "idempotency_key_in_use":
            raise errors.Conflict(
                "Another request is creating this with Stripe right now; retry shortly.",
                code="stripe_request_in_progress",
                details=details,
            ) from exc
        raise errors.InvalidInput(
            f"Stripe refused the request: {exc.message}",
            code="stripe_invalid_request",
            details=details,
        ) from exc
    if isinstance(exc, GatewayAuthError):
        raise errors.UpstreamError(
            "The payment provider refused our credentials.",
            code="stripe_auth_error",
            details=details,
        ) from exc
    if isinstance(exc, GatewayUnavailable):
        raise errors.Unavailable(
            "The payment provider is unavailable; retry with the same Idempotency-Key.",
            code="stripe_unavailable",
            details=details,
        ) from exc
    raise errors.UpstreamError(exc.message, code="stripe_error", details=details) from exc
