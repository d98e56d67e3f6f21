"""In-memory state: objects by kind and id, ids, timestamps and Stripe list pages.

No lock is needed: every handler and background step reads and writes stored objects
without an `await` in between, so each transition is atomic on the event loop. The one
sequence that spans an await (an idempotent request running its handler) claims its key
synchronously first, see `idempotency.py`.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from .errors import invalid, missing

Obj = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


# Human names Stripe uses in "No such …" messages.
_NAMES = {
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "checkout.session": "checkout.session",
    "event": "event",
    "webhook_endpoint": "webhook_endpoint",
}


class Store:
    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Obj]] = {}
        self.line_items: dict[str, list[Obj]] = {}  # checkout session id -> items
        self.card_numbers: dict[str, str] = {}  # payment method id -> card number
        self.return_urls: dict[str, str] = {}  # payment intent id -> confirm's return_url
        self.session_of_pi: dict[str, str] = {}  # payment intent id -> checkout session id
        # checkout session id -> what its PaymentIntent gets once the customer pays
        self.session_pi_data: dict[str, Obj] = {}

    def put(self, obj: Obj) -> Obj:
        self._objects.setdefault(str(obj["object"]), {})[str(obj["id"])] = obj
        return obj

    def find(self, kind: str, ident: str) -> Obj | None:
        return self._objects.get(kind, {}).get(ident)

    def get(self, kind: str, ident: str, param: str = "id") -> Obj:
        obj = self.find(kind, ident)
        if obj is None:
            raise missing(_NAMES.get(kind, kind), ident, param)
        return obj

    def delete(self, kind: str, ident: str) -> Obj:
        obj = self.get(kind, ident)
        del self._objects[kind][ident]
        return obj

    def newest_first(self, kind: str) -> list[Obj]:
        return list(reversed(self._objects.get(kind, {}).values()))


def _limit(params: dict[str, Any]) -> int:
    raw = params.get("limit", "10")
    if not isinstance(raw, str) or not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid("Invalid limit: must be an integer between 1 and 100.", param="limit")
    return int(raw)


def page(items: list[Obj], params: dict[str, Any], url: str) -> Obj:
    """A Stripe list object over `items` (already newest first)."""
    limit = _limit(params)
    after = params.get("starting_after")
    before = params.get("ending_before")
    ids = [o["id"] for o in items]
    if isinstance(after, str):
        if after not in ids:
            raise missing("object", after, "starting_after")
        items = items[ids.index(after) + 1 :]
        chosen = items[:limit]
        has_more = len(items) > limit
    elif isinstance(before, str):
        if before not in ids:
            raise missing("object", before, "ending_before")
        items = items[: ids.index(before)]
        chosen = items[-limit:]
        has_more = len(items) > limit
    else:
        chosen = items[:limit]
        has_more = len(items) > limit
    return {"object": "list", "data": chosen, "has_more": has_more, "url": url}
