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
    "setup_intent": "setup_intent",
    "charge": "charge",
    "refund": "refund",
    "checkout.session": "checkout.session",
    "event": "event",
    "webhook_endpoint": "webhook_endpoint",
}


class Store:
    """Stripe objects plus what Stripe keeps about them but never shows in their JSON."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Obj]] = {}
        self._line_items: dict[str, list[Obj]] = {}  # checkout session id -> items
        self._card_numbers: dict[str, str] = {}  # payment method id -> card number
        self._return_urls: dict[str, str] = {}  # payment intent id -> confirm's return_url
        self._session_of_pi: dict[str, str] = {}  # payment intent id -> checkout session id
        # checkout session id -> what its PaymentIntent gets once the customer pays
        self._session_pi_data: dict[str, Obj] = {}
        self._endpoint_secrets: dict[str, str] = {}  # webhook endpoint id -> signing secret
        self._set_up: set[str] = set()  # payment methods authenticated for later use
        self._spent: set[str] = set()  # payment methods detached: never usable again
        self._deleted: set[str] = set()  # ids of deleted objects (retrieve shows them deleted)

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

    def delete_for_good(self, kind: str, ident: str) -> Obj:
        """Delete as Stripe's DELETE does: the id is then known as deleted."""
        obj = self.delete(kind, ident)
        self._deleted.add(ident)
        return obj

    def was_deleted(self, ident: str) -> bool:
        return ident in self._deleted

    def mark_set_up(self, pm_id: str) -> None:
        """The card was authenticated for future (off-session) use."""
        self._set_up.add(pm_id)

    def is_set_up(self, pm_id: str) -> bool:
        return pm_id in self._set_up

    def mark_spent(self, pm_id: str) -> None:
        self._spent.add(pm_id)

    def is_spent(self, pm_id: str) -> bool:
        return pm_id in self._spent

    def add_card(self, pm: Obj, number: str) -> None:
        self.put(pm)
        self._card_numbers[pm["id"]] = number

    def card_number(self, pm_id: str) -> str:
        """The full number behind a card PaymentMethod ("" for one made elsewhere)."""
        return self._card_numbers.get(pm_id, "")

    def set_return_url(self, pi_id: str, url: str) -> None:
        self._return_urls[pi_id] = url

    def return_url(self, pi_id: str) -> str | None:
        return self._return_urls.get(pi_id)

    def add_session(self, session: Obj, items: list[Obj], pi_data: Obj) -> None:
        """A Checkout Session, its line items and what its PaymentIntent will carry."""
        self.put(session)
        self._line_items[session["id"]] = items
        self._session_pi_data[session["id"]] = pi_data

    def line_items(self, session_id: str) -> list[Obj]:
        return self._line_items.get(session_id, [])

    def session_pi_data(self, session_id: str) -> Obj:
        return self._session_pi_data.get(session_id, {})

    def link_session(self, pi_id: str, session_id: str) -> None:
        self._session_of_pi[pi_id] = session_id

    def session_of(self, pi_id: str) -> str | None:
        """The Checkout Session a PaymentIntent was made for, if any."""
        return self._session_of_pi.get(pi_id)

    def add_endpoint(self, endpoint: Obj, secret: str) -> None:
        self.put(endpoint)
        self._endpoint_secrets[endpoint["id"]] = secret

    def delete_endpoint(self, endpoint_id: str) -> Obj:
        endpoint = self.delete("webhook_endpoint", endpoint_id)
        self._endpoint_secrets.pop(endpoint_id, None)
        return endpoint

    def enabled_endpoints(self) -> list[tuple[Obj, str]]:
        """Enabled webhook endpoints with their secrets, oldest first."""
        return [
            (e, self._endpoint_secrets[e["id"]])
            for e in self.newest_first("webhook_endpoint")[::-1]
            if e["status"] == "enabled"
        ]


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
