"""The OpenAPI rows of the live-status routes (SSE, WebSocket, the browser client),
joined to the table in ``openapi.py``."""

from __future__ import annotations

from service.http.openapi_table import READ, READ_ERRORS, SINCE_VERSION, Operation, Param, Raw

LIVE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/api/payments/{payment_id}/stream",
        "stream_payment",
        "Live status as Server-Sent Events",
        "live",
        ok={200: Raw("text/event-stream", {"type": "string"})},
        errors=(*READ_ERRORS, 422, 429, 503),
        security=READ,
        params=(
            SINCE_VERSION,
            Param(
                "Last-Event-ID",
                "header",
                {"type": "string", "pattern": "^[0-9]{1,18}$"},
                "Sent by EventSource on reconnect; wins over since_version.",
            ),
        ),
        description="Events `snapshot`, `update` and `error`, each with the payment version "
        "as its id; pings are SSE comments.",
    ),
    Operation(
        "GET",
        "/ws",
        "websocket",
        "Live status over a WebSocket",
        "live",
        ok={101: None},
        errors=(400, 403, 429, 503),
        description="Credentials go in each `subscribe` message, not in the upgrade request. "
        "Browsers must come from a configured origin (403 otherwise).",
    ),
    Operation(
        "GET",
        "/paylive.js",
        "paylive_js",
        "The browser client (ES module)",
        "live",
        ok={200: Raw("text/javascript", {"type": "string"})},
        description="ETag is the content hash (304 on If-None-Match); `?v=<hash>` may be "
        "cached for a year.",
    ),
    Operation(
        "GET",
        "/paylive.d.ts",
        "paylive_types",
        "TypeScript types for paylive.js",
        "live",
        ok={200: Raw("application/typescript", {"type": "string"})},
    ),
)
