"""Clerk's user webhook events, shaped as Clerk sends them, and Svix's signature headers."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def user_object(
    user_id: str,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    *,
    created_at: int,
    updated_at: int,
) -> dict[str, Any]:
    """The `data` of user.created / user.updated (the fields paylive reads, and a few more)."""
    email_id = f"idn_{secrets.token_hex(12)}"
    addresses = (
        [
            {
                "id": email_id,
                "object": "email_address",
                "email_address": email,
                "verification": {"status": "verified", "strategy": "email_code"},
            }
        ]
        if email
        else []
    )
    return {
        "id": user_id,
        "object": "user",
        "first_name": first_name,
        "last_name": last_name,
        "email_addresses": addresses,
        "primary_email_address_id": email_id if email else None,
        "phone_numbers": [],
        "image_url": "",
        "public_metadata": {},
        "created_at": created_at,
        "updated_at": updated_at,
    }


def event(kind: str, data: dict[str, Any], *, timestamp: int) -> dict[str, Any]:
    return {
        "object": "event",
        "type": kind,
        "data": data,
        "timestamp": timestamp,
        "instance_id": "ins_paylive_standin",
    }


def deleted_event(user_id: str, *, timestamp: int) -> dict[str, Any]:
    return event(
        "user.deleted", {"id": user_id, "object": "user", "deleted": True}, timestamp=timestamp
    )


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(13)}"


def svix_headers(
    secret: str, message_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    """Signed as Svix signs Clerk's deliveries: the Standard Webhooks scheme under svix-*
    names (tests check the ``svix`` library accepts these and signs the same)."""
    at = at or datetime.now(UTC)
    return {
        "svix-id": message_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(message_id, at, body),
        "Content-Type": "application/json",
    }


def body_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))
