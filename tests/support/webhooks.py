"""Webhook test helpers: sign a body exactly as Stripe does, build events, post them.

body = event_body(make_event("payment_intent.succeeded", intent))
await client.post("/webhooks/stripe", data=body, headers=signed_headers(body, SECRET))
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

WEBHOOK_SECRET = "whsec_paylive_test_0123456789abcdef"


def sign(body: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`, Stripe's header format."""
    text = body.decode() if isinstance(body, bytes) else body
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{text}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signed_headers(
    body: str | bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(body, secret, timestamp),
    }


def event_body(event: dict[str, Any]) -> str:
    """The body Stripe sends: pretty-printed JSON."""
    return json.dumps(event, indent=2)


def make_event(
    type_: str,
    obj: dict[str, Any],
    *,
    created: int | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An event of Stripe's shape around a copy of `obj`."""
    return {
        "id": event_id or f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "data": {"object": copy.deepcopy(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def intent(
    intent_id: str,
    status: str,
    *,
    amount: int = 2500,
    metadata: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A PaymentIntent object with the fields the service reads."""
    obj: dict[str, Any] = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "cancellation_reason": None,
        "currency": "usd",
        "last_payment_error": None,
        "latest_charge": None,
        "metadata": metadata or {},
        "payment_method": None,
        "status": status,
    }
    obj.update(fields)
    return obj


def card_error(code: str, decline_code: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": "Your card was declined.",
        "charge": f"ch_test_{secrets.token_hex(8)}",
        "payment_method": {
            "id": f"pm_test_{secrets.token_hex(8)}",
            "object": "payment_method",
            "card": {"brand": "visa", "last4": "0002"},
        },
        **fields,
    }


async def post_event(
    client: TestClient[web.Request, web.Application],
    event: dict[str, Any],
    secret: str = WEBHOOK_SECRET,
    *,
    timestamp: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a signed event to /webhooks/stripe through a TestClient; (status, JSON body)."""
    body = event_body(event)
    response = await client.post(
        "/webhooks/stripe", data=body.encode(), headers=signed_headers(body, secret, timestamp)
    )
    data: dict[str, Any] = await response.json()
    return response.status, data


async def emulator_call(
    base_url: str,
    secret_key: str,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """A plain HTTP call to the emulator's /v1 API, form-encoded like Stripe's clients."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{base_url}/v1/{path}",
            data=form,
            headers={"Authorization": f"Bearer {secret_key}"},
        ) as response,
    ):
        data: dict[str, Any] = await response.json()
        return response.status, data
