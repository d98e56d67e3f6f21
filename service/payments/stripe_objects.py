"""A Stripe event and the objects it carries, parsed into typed records, defensively.

A signed event can still carry values no real Stripe event has (a `created` far in the
future, a list where a string belongs, NUL characters or lone surrogates PostgreSQL
cannot store). Parsing turns those into ``UnusableEvent`` before anything is written, so
the caller stores the event, acknowledges it and flags it instead of failing on every
retry. Fields we only read when they make sense (amounts, cards) are dropped, not
refused, when they are of the wrong type, as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from service.payments.json_text import too_deep
from service.payments.models import REFUND_REASONS, RefundReason

# Plausible event times: after 1970, before 2106 (Stripe's own are after 2010).
_LATEST_CREATED: Final = 2**32 - 1
# Amounts PostgreSQL's bigint columns and our CHECKs can hold (DESIGN §5: up to 8 digits).
MAX_AMOUNT: Final = 99_999_999
_MAX_DEPTH: Final = 20  # nested objects kept whole (last_payment_error) beyond this: refused


class UnusableEvent(ValueError):
    """A signed event that can never apply; the message says why (no event data in it)."""


def storable(text: str) -> bool:
    """PostgreSQL stores no NUL in text, and UTF-8 has no lone surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def text_or_none(value: Any, name: str) -> str | None:
    """A string field: absent or null is None; another type or unstorable text refuses."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnusableEvent(f"{name} must be a string")
    if not storable(value):
        raise UnusableEvent(f"{name} holds characters that cannot be stored")
    return value


def _required_id(obj: Mapping[str, Any], name: str) -> str:
    value = text_or_none(obj.get("id"), f"{name}.id")
    if not value:
        raise UnusableEvent(f"{name}.id must be a non-empty string")
    return value


def id_of(value: Any, name: str) -> str | None:
    """Stripe fields are an id or, when expanded, the object itself."""
    if isinstance(value, dict):
        value = value.get("id")
        if not isinstance(value, str):
            return None
    return text_or_none(value, name) or None


def plain_id(value: Any, name: str) -> str | None:
    """An id given as a string (an expanded object is not read here)."""
    return text_or_none(value, name) if isinstance(value, str) else None


def amount_or_none(value: Any) -> int | None:
    """An amount in minor units when it is one we could store; otherwise ignored."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_AMOUNT else None


def our_id(obj: Mapping[str, Any], key: str) -> UUID | None:
    """A paylive id we put in the object's metadata (refused: metadata not an object)."""
    metadata = obj.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise UnusableEvent("metadata must be an object")
    value = metadata.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def currency_or_none(value: Any) -> str | None:
    """A currency code as Stripe writes it (three lowercase letters); otherwise None."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.lower()
    return None


def json_storable(value: Any) -> bool:
    """Whether `value` can be stored as jsonb as it is.

    Encoded by the C encoder first: a lone surrogate fails the UTF-8 encoding, and only
    text that may hold a NUL or nests past the limit is walked value by value."""
    try:
        raw = json.dumps(value, ensure_ascii=False).encode()
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError: a lone surrogate
        return False
    if b"\\u0000" in raw or too_deep(raw, _MAX_DEPTH):
        return _walk_storable(value)
    return True


def _walk_storable(value: Any, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return all(storable(str(k)) and _walk_storable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_walk_storable(v, depth + 1) for v in value)
    return value is None or isinstance(value, bool | int | float)


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    created: int
    object: Mapping[str, Any]  # data.object as received; handlers parse what they read
    livemode: bool = False  # a live-mode event (only `true` counts)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)


def parse_event(event: Mapping[str, Any]) -> StripeEvent:
    """The event's envelope (its shape was checked at the edge: ``check_event_shape``)."""
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        raise UnusableEvent("created must be an integer")
    if not 0 < created <= _LATEST_CREATED:
        raise UnusableEvent("created is not a plausible time")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise UnusableEvent("data.object must be an object")
    return StripeEvent(
        str(event["id"]), str(event["type"]), created, obj, event.get("livemode") is True
    )


@dataclass(frozen=True, slots=True)
class Card:
    brand: str | None
    last4: str | None


def card_of(card: Any) -> Card | None:
    """A card's brand and last4 when they look like one (other values are not kept)."""
    if not isinstance(card, dict):
        return None
    brand, last4 = card.get("brand"), card.get("last4")
    return Card(
        brand if isinstance(brand, str) and brand and storable(brand) else None,
        last4
        if isinstance(last4, str) and len(last4) == 4 and last4.isascii() and last4.isdigit()
        else None,
    )


@dataclass(frozen=True, slots=True)
class IntentAmounts:
    """What a PaymentIntent says about money (webhooks and reconciliation)."""

    amount_received: int | None
    amount_capturable: int | None
    cancellation_reason: str | None


def parse_intent_amounts(obj: Mapping[str, Any]) -> IntentAmounts:
    return IntentAmounts(
        amount_or_none(obj.get("amount_received")),
        amount_or_none(obj.get("amount_capturable")),
        text_or_none(obj.get("cancellation_reason"), "cancellation_reason") or None,
    )


@dataclass(frozen=True, slots=True)
class PaymentIntentObject:
    id: str
    status: str | None
    amount: int | None
    currency: str | None
    amounts: IntentAmounts
    latest_charge: str | None
    payment_method: str | None
    card: Card | None
    # last_payment_error, when it is an object: as kept, its payment method reduced to
    # the id (no card data)
    error: Mapping[str, Any] | None
    paylive_payment_id: UUID | None


def _without_payment_method(error: Mapping[str, Any]) -> dict[str, Any]:
    kept = dict(error)
    method = kept.get("payment_method")
    if isinstance(method, dict):
        inner = method.get("id")
        kept["payment_method"] = inner if isinstance(inner, str) else None
    return kept


def parse_payment_intent(obj: Mapping[str, Any]) -> PaymentIntentObject:
    raw_error = obj.get("last_payment_error")
    error = raw_error if isinstance(raw_error, dict) and raw_error else None
    error_method = error.get("payment_method") if error else None
    # Only what is kept must be storable (checking the whole method too cost ~6 us a webhook).
    kept_error = _without_payment_method(error) if error else None
    if kept_error is not None and not json_storable(kept_error):
        raise UnusableEvent("last_payment_error cannot be stored")
    method = obj.get("payment_method")
    card = None
    for source in (error_method, method):
        if isinstance(source, dict) and isinstance(source.get("card"), dict):
            card = card_of(source["card"])
            break
    return PaymentIntentObject(
        id=_required_id(obj, "payment_intent"),
        status=text_or_none(obj.get("status"), "status"),
        amount=amount_or_none(obj.get("amount")),
        currency=currency_or_none(obj.get("currency")),
        amounts=parse_intent_amounts(obj),
        latest_charge=id_of(obj.get("latest_charge"), "latest_charge")
        or (id_of(error.get("charge"), "charge") if error else None),
        payment_method=id_of(method, "payment_method")
        or (id_of(error_method, "payment_method") if error else None),
        card=card,
        error=kept_error,
        paylive_payment_id=our_id(obj, "paylive_payment_id"),
    )


@dataclass(frozen=True, slots=True)
class CheckoutSessionObject:
    id: str
    payment_intent: str | None  # only when given as an id (not expanded)
    status: str | None
    payment_status: str | None
    amount_total: int | None
    currency: str | None
    paylive_payment_id: UUID | None


def parse_checkout_session(obj: Mapping[str, Any]) -> CheckoutSessionObject:
    return CheckoutSessionObject(
        id=_required_id(obj, "checkout_session"),
        payment_intent=plain_id(obj.get("payment_intent"), "payment_intent"),
        status=text_or_none(obj.get("status"), "status"),
        payment_status=text_or_none(obj.get("payment_status"), "payment_status"),
        amount_total=amount_or_none(obj.get("amount_total")),
        currency=currency_or_none(obj.get("currency")),
        paylive_payment_id=our_id(obj, "paylive_payment_id"),
    )


@dataclass(frozen=True, slots=True)
class RefundObject:
    id: str
    amount: int | None  # None: not a refund of an amount we could hold
    status: str | None
    reason: RefundReason | None  # Stripe's other reasons are not ours to store
    failure_reason: str | None
    payment_intent: str | None
    paylive_payment_id: UUID | None
    paylive_refund_id: UUID | None


def parse_refund(obj: Mapping[str, Any]) -> RefundObject:
    amount = obj.get("amount")
    if isinstance(amount, int) and not isinstance(amount, bool) and not 0 < amount <= MAX_AMOUNT:
        raise UnusableEvent("refund amount out of range")
    reason = obj.get("reason")
    return RefundObject(
        id=_required_id(obj, "refund"),
        amount=amount_or_none(amount),
        status=text_or_none(obj.get("status"), "status"),
        reason=next((r for r in REFUND_REASONS if r == reason), None),
        failure_reason=text_or_none(obj.get("failure_reason"), "failure_reason"),
        payment_intent=plain_id(obj.get("payment_intent"), "payment_intent"),
        paylive_payment_id=our_id(obj, "paylive_payment_id"),
        paylive_refund_id=our_id(obj, "paylive_refund_id"),
    )


@dataclass(frozen=True, slots=True)
class ChargeObject:
    id: str
    payment_intent: str | None
    captured: bool | None
    amount_refunded: int | None
    card: Card | None
    refunds: list[RefundObject] | None  # `refunds.data`, when the charge carries it
    paylive_payment_id: UUID | None


def card_of_charge(charge: Mapping[str, Any]) -> Card | None:
    """The card of a charge's payment_method_details, when it is a card."""
    details = charge.get("payment_method_details")
    return card_of(details.get("card")) if isinstance(details, dict) else None


def parse_charge(obj: Mapping[str, Any]) -> ChargeObject:
    captured = obj.get("captured")
    listed = obj.get("refunds")
    data = listed.get("data") if isinstance(listed, dict) else None
    refunds = None
    if isinstance(data, list):
        refunds = [
            parse_refund(r)
            for r in data
            if isinstance(r, dict)
            and isinstance(r.get("id"), str)
            and isinstance(r.get("amount"), int)
        ]
    return ChargeObject(
        id=_required_id(obj, "charge"),
        payment_intent=plain_id(obj.get("payment_intent"), "payment_intent"),
        captured=captured if isinstance(captured, bool) else None,
        amount_refunded=amount_or_none(obj.get("amount_refunded")),
        card=card_of_charge(obj),
        refunds=refunds,
        paylive_payment_id=our_id(obj, "paylive_payment_id"),
    )
