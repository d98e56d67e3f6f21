"""Stripe-shaped API errors: raised by handlers, rendered by the app's middleware."""

from __future__ import annotations

from typing import Any

DOC_URL = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    """One Stripe error answer: HTTP status plus the `error` object Stripe sends."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        saved: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.extra = dict(extra or {})
        # Stripe stores an idempotent result only once the endpoint started executing;
        # validation failures are not saved, card declines are.
        self.saved = saved

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOC_URL}/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        error["request_log_url"] = (
            f"https://dashboard.stripe.com/test/logs/{request_id}?t={request_id}"
        )
        return {"error": error}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def missing(kind: str, ident: str, param: str = "id") -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{ident}'",
        code="resource_missing",
        param=param,
    )


def unexpected_state(message: str, obj_key: str, obj: dict[str, Any]) -> StripeError:
    return StripeError(
        400,
        "invalid_request_error",
        message,
        code="payment_intent_unexpected_state",
        extra={obj_key: obj},
    )


def param_missing(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")
