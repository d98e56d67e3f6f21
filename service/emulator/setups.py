"""What happens when a SetupIntent is confirmed with a card: saved, 3-D Secure, or declined.

Mutations here never await, so each transition is atomic on the event loop.
"""

from __future__ import annotations

import copy

from . import payments, saved_cards
from .cards import DECLINES, GENERIC, Behaviour, Decline, behaviour
from .errors import DOC_URL, StripeError
from .state import Emulator
from .store import Obj

AUTH_FAILURE = (
    "The latest attempt to set up the payment method has failed because authentication failed."
)


def confirm(emulator: Emulator, si: Obj, pm: Obj, base: str) -> StripeError | None:
    """Run one confirmation; returns the card error to answer with, if declined.

    Every 3-D Secure test card asks for authentication when it is set up (that is what
    lets Stripe's 4000 0025 0000 3155 pay off-session later).
    """
    si.update(payment_method=pm["id"], last_setup_error=None, next_action=None)
    number = emulator.store.card_number(pm["id"])
    kind = behaviour(number)
    if kind is Behaviour.THREE_DS:
        si.update(
            status="requires_action",
            next_action=payments.authentication_action(emulator, si, base),
        )
        emulator.emit("setup_intent.requires_action", si)
        return None
    if kind in (Behaviour.DECLINE, Behaviour.PROCESSING_DECLINE):
        return decline(emulator, si, pm, DECLINES.get(number, GENERIC))
    succeed(emulator, si, pm)
    return None


def succeed(emulator: Emulator, si: Obj, pm: Obj) -> None:
    if si["customer"]:
        saved_cards.attach(emulator, pm, str(si["customer"]))
    emulator.store.mark_set_up(pm["id"])
    si.update(status="succeeded", next_action=None)
    emulator.emit("setup_intent.succeeded", si)


def _fail(emulator: Emulator, si: Obj, error: Obj) -> None:
    si.update(
        status="requires_payment_method",
        last_setup_error=error,
        payment_method=None,
        next_action=None,
    )
    emulator.emit("setup_intent.setup_failed", si)


def decline(emulator: Emulator, si: Obj, pm: Obj, d: Decline) -> StripeError:
    error = payments.decline_error(d, None, pm)
    _fail(emulator, si, error)
    extra = {k: v for k, v in error.items() if k not in {"type", "code", "message", "doc_url"}}
    extra["setup_intent"] = copy.deepcopy(si)
    return StripeError(402, "card_error", d.message, code=d.code, extra=extra, saved=True)


def authenticate(emulator: Emulator, si: Obj, success: bool) -> None:
    """Outcome of the 3-D Secure challenge page."""
    pm = emulator.store.get("payment_method", str(si["payment_method"]))
    if success:
        succeed(emulator, si, pm)
        return
    _fail(
        emulator,
        si,
        {
            "type": "invalid_request_error",
            "code": "setup_intent_authentication_failure",
            "message": AUTH_FAILURE,
            "doc_url": f"{DOC_URL}/setup-intent-authentication-failure",
            "payment_method": copy.deepcopy(pm),
        },
    )


CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def cancel(emulator: Emulator, si: Obj, reason: str | None) -> None:
    si.update(status="canceled", cancellation_reason=reason, next_action=None)
    emulator.emit("setup_intent.canceled", si)
