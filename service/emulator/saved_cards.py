"""Cards saved on a Customer: attach, detach, and who may pay with a saved card."""

from __future__ import annotations

from .errors import invalid
from .state import Emulator
from .store import Obj

SPENT = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
    "attachment, shared with a connected account without Customer attachment, or was "
    "detached from a Customer. It may not be used again. To use a PaymentMethod multiple "
    "times, you must attach it to a Customer first."
)


def attach(emulator: Emulator, pm: Obj, customer_id: str) -> None:
    """Attach `pm` to the customer; attaching it to its own customer again changes nothing."""
    if pm["customer"] == customer_id:
        return
    if pm["customer"] is not None:
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    if emulator.store.is_spent(pm["id"]):
        raise invalid(SPENT, param="payment_method")
    pm["customer"] = customer_id
    emulator.emit("payment_method.attached", pm)


def detach(emulator: Emulator, pm: Obj) -> None:
    if pm["customer"] is None:
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment "
            "is impossible.",
            param="payment_method",
        )
    previous = {"customer": pm["customer"]}
    pm["customer"] = None
    emulator.store.mark_spent(pm["id"])
    emulator.emit("payment_method.detached", pm, previous)


def check_usable(emulator: Emulator, pm: Obj, customer_id: str | None) -> None:
    """A saved card pays only for its own customer; a detached one never again."""
    if emulator.store.is_spent(pm["id"]):
        raise invalid(SPENT, param="payment_method")
    owner = pm["customer"]
    if owner is not None and owner != customer_id:
        raise invalid(
            f"The provided PaymentMethod ({pm['id']}) is attached to a different Customer. "
            "Pass its Customer in the `customer` parameter to use it.",
            param="payment_method",
        )
