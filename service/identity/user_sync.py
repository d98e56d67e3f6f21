"""Clerk's user events, and what each does to our customer (pure: no I/O).

- ``user.created`` / ``user.updated``: the customer takes the user's primary email and
  first/last name, unless we already applied a record at least as new (Clerk's
  ``updated_at``, ms): Svix does not order deliveries, and a retry can come late.
- ``user.deleted``: the personal data (email, names) is erased, the payments stay, and
  the customer stays deleted: a late create or update never brings the data back.
- Anything else (sessions, organizations, ...) is stored and answered 200, "ignored".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from service.identity.models import CustomerRecord

USER_EVENTS: Final = ("user.created", "user.updated", "user.deleted")
MAX_EMAIL: Final = 320
MAX_NAME: Final = 200
MAX_USER_ID: Final = 200

Outcome = Literal["applied", "stale", "unchanged", "duplicate", "ignored", "invalid"]


class InvalidUserEvent(ValueError):
    """A user event we can never apply (answered 200 with outcome "invalid": a retry
    would not make it any better)."""


@dataclass(frozen=True, slots=True)
class ClerkUser:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    updated_at: int  # ms since the epoch


@dataclass(frozen=True, slots=True)
class UserEvent:
    type: str  # one of USER_EVENTS
    user_id: str
    user: ClerkUser | None  # None for user.deleted


@dataclass(frozen=True, slots=True)
class IdentityChange:
    email: str | None
    first_name: str | None
    last_name: str | None
    name: str | None
    identity_updated_at: int | None
    deleted: bool
    push_to_stripe: bool  # the Stripe Customer's email or name must follow


@dataclass(frozen=True, slots=True)
class SyncDecision:
    outcome: Outcome
    change: IdentityChange | None = None


def full_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name[:MAX_NAME] or None


def event_type(payload: Any) -> str | None:
    value = payload.get("type") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


def parse_user_event(payload: Any) -> UserEvent | None:
    """The user event in a Clerk webhook payload; None for other event types."""
    kind = event_type(payload)
    if kind not in USER_EVENTS:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise InvalidUserEvent("data must be an object")
    user_id = data.get("id")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID:
        raise InvalidUserEvent("data.id must be a user id")
    if kind == "user.deleted":
        return UserEvent(kind, user_id, None)
    updated_at = data.get("updated_at")
    if isinstance(updated_at, bool) or not isinstance(updated_at, int) or updated_at < 0:
        raise InvalidUserEvent("data.updated_at must be a timestamp (ms)")
    user = ClerkUser(
        id=user_id,
        email=_primary_email(data),
        first_name=_text(data, "first_name", MAX_NAME),
        last_name=_text(data, "last_name", MAX_NAME),
        updated_at=updated_at,
    )
    return UserEvent(kind, user_id, user)


def _text(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidUserEvent(f"data.{name} must be a string")
    return value.strip()[:limit] or None


def _primary_email(data: dict[str, Any]) -> str | None:
    primary = data.get("primary_email_address_id")
    addresses = data.get("email_addresses") or []
    if not isinstance(addresses, list):
        raise InvalidUserEvent("data.email_addresses must be a list")
    for entry in addresses:
        if isinstance(entry, dict) and entry.get("id") == primary and primary is not None:
            email = _text(entry, "email_address", MAX_EMAIL + 1)
            if email is not None and len(email) > MAX_EMAIL:
                raise InvalidUserEvent("the primary email address is too long")
            return email
    return None  # no primary address (e.g. a phone-only user)


def decide(current: CustomerRecord, event: UserEvent) -> SyncDecision:
    """What the event does to the customer as it is now."""
    if event.user is None:  # user.deleted
        if current.deleted_at is not None:
            return SyncDecision("unchanged")
        had_data = current.email is not None or current.name is not None
        erased = IdentityChange(None, None, None, None, None, deleted=True, push_to_stripe=had_data)
        return SyncDecision("applied", erased)
    user = event.user
    if current.deleted_at is not None:
        return SyncDecision("stale")  # deleted is final
    if current.identity_updated_at is not None and user.updated_at <= current.identity_updated_at:
        return SyncDecision("stale")
    name = full_name(user.first_name, user.last_name)
    return SyncDecision(
        "applied",
        IdentityChange(
            email=user.email,
            first_name=user.first_name,
            last_name=user.last_name,
            name=name,
            identity_updated_at=user.updated_at,
            deleted=False,
            push_to_stripe=(user.email, name) != (current.email, current.name),
        ),
    )
