"""The OpenAPI table: what each route takes, returns and needs (``OPERATIONS``).

``openapi.py`` turns it into the document; the JSON Schemas come from
``service/http/schemas.py`` so they cannot drift from what the handlers validate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from service.http.openapi_sessions import SESSION, SESSION_SCHEMES
from service.http.schemas import (
    AttemptOut,
    CancelIn,
    CheckoutCreatedOut,
    CreateCheckoutSessionIn,
    CreatePaymentIntentIn,
    PaymentCreatedOut,
    PaymentListOut,
    PaymentOut,
    RefundCreatedOut,
    RefundIn,
    TimelineEntryOut,
)

OPENAPI_PATH = "/api/openapi.json"

REF = "#/components/schemas/{model}"
JSON = "application/json"

# --- Bodies that are built by hand in the handlers (no model in schemas.py) -----------------


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


class AttemptListOut(BaseModel):
    """``GET /api/payments/{id}/attempts`` (payments.get_attempts joins AttemptOut JSON)."""

    data: list[AttemptOut]


class TimelineOut(BaseModel):
    """``GET /api/payments/{id}/timeline`` (payments.get_timeline joins TimelineEntryOut JSON)."""

    data: list[TimelineEntryOut]


class WebhookAckOut(BaseModel):
    received: bool
    outcome: str


# --- The table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A body that is not one of our JSON models (the Stripe event, SSE, the spec itself)."""

    media_type: str
    schema: Mapping[str, Any]


Body = type[BaseModel] | Raw | None  # None: no body (101 Switching Protocols)


@dataclass(frozen=True)
class Param:
    name: str
    location: Literal["query", "header", "path"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST", "DELETE"]
    path: str  # the aiohttp path template, e.g. /api/payments/{payment_id}
    operation_id: str
    summary: str
    tag: str
    ok: Mapping[int, Body]  # success statuses (or the one status a probe answers)
    errors: tuple[int, ...] = ()  # each answered with ErrorOut
    request: type[BaseModel] | Raw | None = None
    body_optional: bool = False  # an empty body means {} (cancel, refunds)
    security: tuple[str, ...] = ()  # alternatives; () means no credentials
    params: tuple[Param, ...] = ()
    description: str | None = None


# Scheme names: each is one alternative way to authenticate.
API_KEY = "ApiKey"
STATUS_HEADER = "StatusToken"
STATUS_QUERY = "StatusTokenQuery"
ORDER_HEADER = "OrderToken"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "description": "A server-to-server API key: `Authorization: Bearer <key>`.",
    },
    STATUS_HEADER: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Status-Token",
        "description": "The payment's signed, expiring `status_token` (from its creation). "
        "It is also accepted as `Authorization: Bearer <token>`.",
    },
    STATUS_QUERY: {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The `status_token` as a query parameter, for EventSource and links.",
    },
    ORDER_HEADER: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Order-Token",
        "description": "A signed order token from the app's backend fixing order id, amount "
        "and currency, so a browser cannot choose its own price.",
    },
    **SESSION_SCHEMES,
}

READ = (API_KEY, STATUS_HEADER, STATUS_QUERY, *SESSION)
CREATE = (API_KEY, ORDER_HEADER)

PATH_PARAMS: dict[str, Param] = {
    "payment_id": Param(
        "payment_id",
        "path",
        {"type": "string", "format": "uuid"},
        "The paylive payment id (not Stripe's); anything else is 404.",
        required=True,
    ),
}

SINCE_VERSION = Param(
    "since_version",
    "query",
    {"type": "integer", "minimum": 0, "default": 0},
    "Only entries after this payment version.",
)
LIST_PARAMS = (
    Param(
        "order_id",
        "query",
        {"type": "string", "minLength": 1, "maxLength": 200},
        "Only this order's payments.",
    ),
    Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "Page size.",
    ),
    Param("cursor", "query", {"type": "string"}, "`next_cursor` of the previous page."),
)

# Every route that calls Stripe can get Stripe's answers back as 402/409/422/502/503.
_CREATE_ERRORS = (400, 401, 402, 403, 409, 413, 422, 502, 503)
_CHANGE_ERRORS = (400, 401, 402, 404, 409, 413, 422, 502, 503)
# 400: a path, query or header with a NUL or undecodable bytes (every route).
READ_ERRORS = (400, 401, 403, 404)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/healthz",
        "healthz",
        "Liveness: the process answers",
        "ops",
        ok={200: HealthOut},
    ),
    Operation(
        "GET",
        "/readyz",
        "readyz",
        "Readiness: the database answers and the change listener is connected",
        "ops",
        ok={200: ReadyOut, 503: ReadyOut},
    ),
    Operation(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics (text exposition format 0.0.4; OpenMetrics on Accept)",
        "ops",
        ok={200: Raw("text/plain; version=0.0.4; charset=utf-8", {"type": "string"})},
    ),
    Operation(
        "GET",
        OPENAPI_PATH,
        "openapi",
        "This OpenAPI 3.1 document",
        "ops",
        ok={200: Raw(JSON, {"type": "object"})},
    ),
    Operation(
        "POST",
        "/api/payment-intents",
        "create_payment_intent",
        "Create (or reuse) the PaymentIntent for an order",
        "payments",
        ok={201: PaymentCreatedOut, 200: PaymentCreatedOut},
        errors=_CREATE_ERRORS,
        request=CreatePaymentIntentIn,
        security=CREATE,
        description="201 when created; 200 when the order's open payment is reused.",
    ),
    Operation(
        "POST",
        "/api/checkout-sessions",
        "create_checkout_session",
        "Create (or reuse) a hosted Checkout Session for an order",
        "payments",
        ok={201: CheckoutCreatedOut, 200: CheckoutCreatedOut},
        errors=_CREATE_ERRORS,
        request=CreateCheckoutSessionIn,
        security=CREATE,
        description="success_url and cancel_url must be on an allowed redirect origin.",
    ),
    Operation(
        "GET",
        "/api/payments",
        "list_payments",
        "List payments, newest first",
        "payments",
        ok={200: PaymentListOut},
        errors=(400, 401, 422),
        security=(API_KEY,),
        params=LIST_PARAMS,
    ),
    Operation(
        "GET",
        "/api/payments/{payment_id}",
        "get_payment",
        "A payment's current state",
        "payments",
        ok={200: PaymentOut},
        errors=READ_ERRORS,
        security=READ,
    ),
    Operation(
        "GET",
        "/api/payments/{payment_id}/attempts",
        "get_attempts",
        "A payment's charge attempts, with decline advice",
        "payments",
        ok={200: AttemptListOut},
        errors=READ_ERRORS,
        security=READ,
    ),
    Operation(
        "GET",
        "/api/payments/{payment_id}/timeline",
        "get_timeline",
        "A payment's versioned history",
        "payments",
        ok={200: TimelineOut},
        errors=(*READ_ERRORS, 422),
        security=READ,
        params=(SINCE_VERSION,),
    ),
    Operation(
        "POST",
        "/api/payments/{payment_id}/cancel",
        "cancel_payment",
        "Cancel a payment that has not succeeded",
        "payments",
        ok={200: PaymentOut},
        errors=_CHANGE_ERRORS,
        request=CancelIn,
        body_optional=True,
        security=(API_KEY,),
    ),
    Operation(
        "POST",
        "/api/payments/{payment_id}/refunds",
        "refund_payment",
        "Refund a payment, fully or partly",
        "payments",
        ok={201: RefundCreatedOut},
        errors=_CHANGE_ERRORS,
        request=RefundIn,
        body_optional=True,
        security=(API_KEY,),
        description="Never more than what is still refundable; no amount refunds all of it.",
    ),
    Operation(
        "POST",
        "/api/payments/{payment_id}/abandon",
        "abandon_payment",
        "The customer gives up its open hosted Checkout (status token)",
        "payments",
        ok={200: PaymentOut},
        errors=_CHANGE_ERRORS,
        security=(API_KEY, STATUS_HEADER),
        description="Expires the Checkout Session at Stripe; the order can be paid again.",
    ),
    Operation(
        "POST",
        "/webhooks/stripe",
        "stripe_webhook",
        "Stripe's webhook endpoint",
        "webhooks",
        ok={200: WebhookAckOut},
        errors=(400, 413, 500),
        request=Raw(JSON, {"type": "object", "description": "A Stripe event object."}),
        params=(
            Param(
                "Stripe-Signature",
                "header",
                {"type": "string"},
                "Stripe's signature of the raw body; 400 when missing, wrong or stale.",
                required=True,
            ),
        ),
        description="Authenticated by its signature only; 500 asks Stripe to retry.",
    ),
)
