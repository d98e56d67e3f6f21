"""Signed webhook bodies that can never apply: kept, acknowledged, counted, logged.

Stripe retries anything but a 2xx for three days, so a body that no retry can fix (JSON
nested absurdly deep, a NUL or a lone surrogate PostgreSQL cannot store, a ``created``
no timestamp can hold) is stored in the inbox, marked processed with the reason, and
answered 200. Its raw bytes are kept base64-encoded, since jsonb refuses what it holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any, Final

from service.db.store import PgStore
from service.http.parsing import (
    MAX_JSON_DEPTH,
    HostileInput,
    check_strings,
    check_text,
)
from service.payments.json_text import surely_storable, too_deep

log = logging.getLogger(__name__)

# datetime (and so the inbox's timestamptz) holds years 1 to 9999.
MAX_CREATED: Final = 253_402_300_799


def screen(body: bytes) -> tuple[Any, str | None]:
    """The parsed body, and why it can never be stored as an event (None: it can).

    ValueError if it is not JSON at all (the caller answers 400)."""
    if too_deep(body, MAX_JSON_DEPTH):
        return None, "json_too_deep"
    value = json.loads(body)
    try:
        if not surely_storable(body):
            check_strings(value)
    except HostileInput as exc:
        return value, exc.code
    if isinstance(value, dict):
        created = value.get("created")
        if isinstance(created, int) and not 0 <= created <= MAX_CREATED:
            return value, "created_out_of_range"
    return value, None


def _name(event: Any, field: str, default: str) -> str:
    value = event.get(field) if isinstance(event, dict) else None
    if isinstance(value, str) and 1 <= len(value) <= 255:
        try:
            check_text(value, field)
        except HostileInput:
            return default
        return value
    return default


async def quarantine(store: PgStore, body: bytes, event: Any, reason: str) -> None:
    """Keep the body under its event id when that is usable, else under its hash."""
    digest = hashlib.sha256(body).hexdigest()
    event_id = _name(event, "id", f"unstorable_{digest[:48]}")
    event_type = _name(event, "type", "unknown")
    payload = {
        "paylive_unstorable": reason,
        "sha256": digest,
        "body_base64": base64.b64encode(body).decode("ascii"),
    }
    async with store.transaction() as tx:
        new = await tx.inbox_quarantine(event_id, event_type, payload, reason)
    log.warning(
        "webhook event can never apply: stored unprocessable and acknowledged",
        extra={"event_id": event_id, "event_type": event_type, "reason": reason, "new": new},
    )
