"""What the customer may see of a payment attempt (DESIGN §7), decided here once.

Everything a status-token holder (the browser) reads goes through ``customer_attempt``:
the attempt summary the timeline stores, ``GET /attempts`` without an API key, and the
``attempt`` of each WebSocket / SSE snapshot and update. A fraud decline looks exactly
like a plain one; Stripe's own error text (written for developers, e.g. "The provided
PaymentMethod has failed authentication…") is never shown, only our advice message; and
only a failed attempt says whether retrying the same card can help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, Protocol

from service.payments.declines import FRAUD_CODES, GENERIC

MASKED_CODE: Final = "card_declined"
MASKED_DECLINE_CODE: Final = "generic_decline"


class AttemptRecord(Protocol):
    """What both a stored ``Attempt`` and a ``NewAttempt`` carry."""

    @property
    def outcome(self) -> str: ...
    @property
    def card_brand(self) -> str | None: ...
    @property
    def card_last4(self) -> str | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def decline_code(self) -> str | None: ...
    @property
    def advice_next_step(self) -> str | None: ...
    @property
    def advice_retryable(self) -> bool | None: ...
    @property
    def advice_message(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class CustomerAttempt:
    """One attempt as the customer may see it; field names are the timeline's (v1)."""

    outcome: str
    card_brand: str | None = None
    card_last4: str | None = None
    error_code: str | None = None
    decline_code: str | None = None
    advice_next_step: str | None = None
    advice_retryable: bool | None = None  # only for a failed attempt
    advice_message: str | None = None  # customer-safe text: ours, never Stripe's

    def to_json(self) -> dict[str, Any]:
        """The JSON form (keys without a value left out, as the timeline always did)."""
        # Field by field: dataclasses.asdict deep-copies (a few per cent of a webhook's CPU).
        return {
            name: value for name in _ATTEMPT_FIELDS if (value := getattr(self, name)) is not None
        }


_ATTEMPT_FIELDS: Final = tuple(field.name for field in fields(CustomerAttempt))


def customer_attempt(attempt: AttemptRecord) -> CustomerAttempt:
    """The customer's view of an attempt: the one masking rule for every reader."""
    fraud = bool(FRAUD_CODES & {attempt.decline_code, attempt.error_code})
    if fraud:
        return CustomerAttempt(
            outcome=attempt.outcome,
            card_brand=attempt.card_brand,
            card_last4=attempt.card_last4,
            error_code=MASKED_CODE,
            decline_code=MASKED_DECLINE_CODE,
            advice_next_step=GENERIC.next_step,
            advice_retryable=GENERIC.retryable,
            advice_message=GENERIC.customer_message,
        )
    failed = attempt.outcome == "failed"
    return CustomerAttempt(
        outcome=attempt.outcome,
        card_brand=attempt.card_brand,
        card_last4=attempt.card_last4,
        error_code=attempt.error_code,
        decline_code=attempt.decline_code,
        advice_next_step=attempt.advice_next_step,
        # "Retrying can help" means something only after a failure; a pending 3-D Secure
        # asks for authentication, not a retry.
        advice_retryable=attempt.advice_retryable if failed else None,
        advice_message=attempt.advice_message,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class _Stored:
    """A timeline's stored attempt summary, read back as an ``AttemptRecord``."""

    outcome: str
    card_brand: str | None
    card_last4: str | None
    error_code: str | None
    decline_code: str | None
    advice_next_step: str | None
    advice_retryable: bool | None
    advice_message: str | None


def latest_attempt(timeline: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The newest attempt among serialized timeline entries, as the customer may see it
    (re-checked through ``customer_attempt``, so rows written by older versions of the
    service are masked the same way), with the entry's time as ``at``."""
    for entry in reversed(timeline):
        data = entry.get("data")
        summary = data.get("attempt") if isinstance(data, Mapping) else None
        if not isinstance(summary, Mapping) or _text(summary.get("outcome")) is None:
            continue
        retryable = summary.get("advice_retryable")
        stored = _Stored(
            outcome=str(summary["outcome"]),
            card_brand=_text(summary.get("card_brand")),
            card_last4=_text(summary.get("card_last4")),
            error_code=_text(summary.get("error_code")),
            decline_code=_text(summary.get("decline_code")),
            advice_next_step=_text(summary.get("advice_next_step")),
            advice_retryable=retryable if isinstance(retryable, bool) else None,
            advice_message=_text(summary.get("advice_message")),
        )
        return {**customer_attempt(stored).to_json(), "at": entry.get("at")}
    return None
