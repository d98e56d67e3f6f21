"""What a decline does to a saved card, one row per decline code (issue 18).

Declines' advice to the customer lives in ``declines.py``; this table says what happens to
the card itself: disabled (kept for history, never offered again), the CVC asked again,
left as it is with another card suggested, or the customer asked to authenticate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

CardAction = Literal["disable", "ask_cvc", "suggest_another", "authenticate"]


@dataclass(frozen=True, slots=True)
class CardEffect:
    action: CardAction
    next_step: str  # what the customer is offered next (the page's wording key)


_DISABLE: Final = CardEffect("disable", "use_another_card")
_KEEP: Final = CardEffect("suggest_another", "use_another_card")

CARD_EFFECTS: Final[dict[str, CardEffect]] = {
    "expired_card": _DISABLE,
    "lost_card": _DISABLE,
    "stolen_card": _DISABLE,
    "pickup_card": _DISABLE,
    "incorrect_cvc": CardEffect("ask_cvc", "fix_card_details"),
    "insufficient_funds": _KEEP,
    "generic_decline": _KEEP,
    "do_not_honor": _KEEP,
    "authentication_required": CardEffect("authenticate", "authenticate"),
}

# A decline code we have no row for leaves the card alone and suggests another.
DEFAULT_EFFECT: Final = _KEEP


def card_effect(decline_code: str | None, error_code: str | None = None) -> CardEffect:
    """The effect of a decline: by its decline_code, else its error code (Stripe puts
    `expired_card`, `incorrect_cvc` and `authentication_required` in either), else none."""
    for code in (decline_code, error_code):
        if code is not None and code in CARD_EFFECTS:
            return CARD_EFFECTS[code]
    return DEFAULT_EFFECT


def disables(decline_code: str | None, error_code: str | None = None) -> bool:
    return card_effect(decline_code, error_code).action == "disable"
