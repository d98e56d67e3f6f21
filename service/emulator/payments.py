"""What happens when a PaymentIntent is confirmed with a card, and what follows.

Mutations here never await, so each transition is atomic on the event loop.
"""

from __future__ import annotations

import asyncio
import copy

from . import charge_objects, saved_cards, sessions
from .cards import (
    AUTHENTICATION_REQUIRED,
    DECLINES,
    GENERIC,
    SET_UP_ONCE,
    Behaviour,
    Decline,
    behaviour,
)
from .errors import DOC_URL, StripeError
from .state import Emulator
from .store import Obj, new_id, now

AUTH_FAILURE = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this "
    "PaymentIntent again."
)


def confirm(
    emulator: Emulator, pi: Obj, pm: Obj, base: str, off_session: bool = False
) -> StripeError | None:
    """Run one confirmation; returns the card error to answer with, if declined.

    Off-session nobody can answer 3-D Secure: a card that wants it is declined with
    `authentication_required`, unless it is the card that needs it only once and was
    set up before (Stripe's 4000 0025 0000 3155).
    """
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    pi["next_action"] = None
    number = emulator.store.card_number(pm["id"])
    kind = behaviour(number)
    if off_session and kind is Behaviour.THREE_DS:
        if number == SET_UP_ONCE and emulator.store.is_set_up(pm["id"]):
            succeed(emulator, pi, pm)
            return None
        return decline(emulator, pi, pm, AUTHENTICATION_REQUIRED)
    if kind is Behaviour.THREE_DS:
        _require_action(emulator, pi, base)
        return None
    if kind in (Behaviour.PROCESSING, Behaviour.PROCESSING_DECLINE):
        _start_processing(
            emulator, pi, pm, GENERIC if kind is Behaviour.PROCESSING_DECLINE else None
        )
        return None
    if kind is Behaviour.DECLINE:
        return decline(emulator, pi, pm, DECLINES[number])
    succeed(emulator, pi, pm)
    return None


def authentication_action(emulator: Emulator, intent: Obj, base: str) -> Obj:
    """The `next_action` that sends a Payment- or SetupIntent to the 3-D Secure page."""
    url = f"{base}/3ds/{intent['id']}?client_secret={intent['client_secret']}"
    return_url = emulator.store.return_url(intent["id"])
    if return_url:
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": url, "return_url": return_url},
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "stripe_js": url,
            "source": new_id("src"),
        },
    }


def _require_action(emulator: Emulator, pi: Obj, base: str) -> None:
    pi["next_action"] = authentication_action(emulator, pi, base)
    pi["status"] = "requires_action"
    emulator.emit("payment_intent.requires_action", pi)


def _start_processing(emulator: Emulator, pi: Obj, pm: Obj, outcome: Decline | None) -> None:
    ch = charge_objects.charge(pi, pm, None, captured=False)
    ch.update(status="pending", paid=False, amount_captured=0, balance_transaction=None)
    emulator.store.put(ch)
    pi["latest_charge"] = ch["id"]
    pi["status"] = "processing"
    pi["processing"] = {"type": "card", "card": {}}
    emulator.emit("payment_intent.processing", pi)
    sessions.on_payment_intent(emulator, pi)
    emulator.spawn(_finish_processing(emulator, pi["id"], pm["id"], ch["id"], outcome))


async def _finish_processing(
    emulator: Emulator, pi_id: str, pm_id: str, ch_id: str, outcome: Decline | None
) -> None:
    await asyncio.sleep(emulator.config.processing_delay)
    store = emulator.store
    pi, pm = store.get("payment_intent", pi_id), store.get("payment_method", pm_id)
    if pi["status"] != "processing":
        return
    pi["processing"] = None
    store.delete("charge", ch_id)  # replaced by the final charge, same id
    if outcome is None:
        succeed(emulator, pi, pm, charge_id=ch_id)
    else:
        decline(emulator, pi, pm, outcome, charge_id=ch_id)


def succeed(emulator: Emulator, pi: Obj, pm: Obj, charge_id: str | None = None) -> None:
    manual = pi["capture_method"] == "manual"
    ch = charge_objects.charge(pi, pm, None, captured=not manual)
    if charge_id:
        ch["id"] = charge_id
    emulator.store.put(ch)
    pi.update(latest_charge=ch["id"], next_action=None, processing=None)
    emulator.emit("charge.succeeded", ch)
    if manual:
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        emulator.emit("payment_intent.amount_capturable_updated", pi)
    else:
        pi.update(status="succeeded", amount_received=pi["amount"])
        emulator.emit("payment_intent.succeeded", pi)
    _save_for_later(emulator, pi, pm)
    sessions.on_payment_intent(emulator, pi)


def _save_for_later(emulator: Emulator, pi: Obj, pm: Obj) -> None:
    """`setup_future_usage` with a customer: the card is attached once the payment passes."""
    if pi["setup_future_usage"] and pi["customer"]:
        saved_cards.attach(emulator, pm, str(pi["customer"]))
        emulator.store.mark_set_up(pm["id"])


def _error_fields(d: Decline) -> Obj:
    fields: Obj = {"decline_code": d.decline_code}
    if d.advice_code:
        fields["advice_code"] = d.advice_code
    if d.network_decline_code:
        fields["network_decline_code"] = d.network_decline_code
    return {k: v for k, v in fields.items() if v is not None}


def decline_error(d: Decline, charge_id: str | None, pm: Obj) -> Obj:
    """The `last_payment_error` (`last_setup_error`: no charge) a decline leaves."""
    error: Obj = {
        "type": "card_error",
        "code": d.code,
        "message": d.message,
        "doc_url": f"{DOC_URL}/{d.code.replace('_', '-')}",
        "payment_method": copy.deepcopy(pm),
        **_error_fields(d),
    }
    if charge_id is not None:
        error["charge"] = charge_id
    return error


def decline(
    emulator: Emulator, pi: Obj, pm: Obj, d: Decline, charge_id: str | None = None
) -> StripeError:
    ch = charge_objects.charge(pi, pm, d, captured=False)
    if charge_id:
        ch["id"] = charge_id
    emulator.store.put(ch)
    emulator.emit("charge.failed", ch)
    error = decline_error(d, ch["id"], pm)
    fail(emulator, pi, error, latest_charge=ch["id"])
    extra = {k: v for k, v in error.items() if k not in {"type", "code", "message", "doc_url"}}
    extra["payment_intent"] = copy.deepcopy(pi)
    return StripeError(402, "card_error", d.message, code=d.code, extra=extra, saved=True)


def fail(emulator: Emulator, pi: Obj, error: Obj, latest_charge: str | None = None) -> None:
    """Back to `requires_payment_method` with `error` as `last_payment_error`."""
    pi.update(
        status="requires_payment_method",
        last_payment_error=error,
        payment_method=None,
        next_action=None,
        processing=None,
    )
    if latest_charge:
        pi["latest_charge"] = latest_charge
    emulator.emit("payment_intent.payment_failed", pi)
    sessions.on_payment_intent(emulator, pi)


def authenticate(emulator: Emulator, pi: Obj, success: bool) -> None:
    """Outcome of the 3-D Secure challenge page."""
    pm = emulator.store.get("payment_method", str(pi["payment_method"]))
    if success:
        succeed(emulator, pi, pm)
        return
    fail(
        emulator,
        pi,
        {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": AUTH_FAILURE,
            "doc_url": f"{DOC_URL}/payment-intent-authentication-failure",
            "payment_method": copy.deepcopy(pm),
        },
    )


CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
)


def cancel(emulator: Emulator, pi: Obj, reason: str | None) -> None:
    if pi["status"] == "requires_capture" and pi["latest_charge"]:
        ch = emulator.store.get("charge", str(pi["latest_charge"]))
        ch.update(refunded=True, amount_refunded=ch["amount"])
    pi.update(
        status="canceled",
        canceled_at=now(),
        cancellation_reason=reason,
        amount_capturable=0,
        next_action=None,
    )
    emulator.emit("payment_intent.canceled", pi)


def capture(emulator: Emulator, pi: Obj, amount: int) -> None:
    ch = emulator.store.get("charge", str(pi["latest_charge"]))
    ch.update(captured=True, amount_captured=amount, balance_transaction=new_id("txn"))
    pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
    emulator.emit("charge.captured", ch)
    emulator.emit("payment_intent.succeeded", pi)
    sessions.on_payment_intent(emulator, pi)
