"""Standard Webhooks signing: what a merchant verifies with ``standardwebhooks`` or ``svix``.

``webhook-signature`` carries one ``v1,<base64>`` per configured secret (rotation: the
merchant may hold either the old or the new one while they change over).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook


def body(kind: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The request body; the same text on every retry (same inputs, same key order)."""
    return json.dumps(
        {"type": kind, "timestamp": created_at.isoformat(), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )


class Signer:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("notifications need at least one MERCHANT_WEBHOOK_SECRET")
        self._webhooks = [Webhook(secret) for secret in secrets]

    def headers(self, webhook_id: str, sent_at: datetime, payload: str) -> dict[str, str]:
        """``sent_at``: this attempt's time (receivers reject timestamps over 5 min old)."""
        signatures = " ".join(w.sign(webhook_id, sent_at, payload) for w in self._webhooks)
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signatures,
            "content-type": "application/json",
        }
