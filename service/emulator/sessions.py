"""How a Checkout Session follows its PaymentIntent (completed, async outcome)."""

from __future__ import annotations

from .state import Emulator
from .store import Obj


def on_payment_intent(emulator: Emulator, pi: Obj) -> None:
    session_id = emulator.store.session_of(pi["id"])
    if session_id is None:
        return
    session = emulator.store.get("checkout.session", session_id)
    status = pi["status"]
    if session["status"] == "open" and status in ("succeeded", "processing"):
        session.update(
            status="complete",
            url=None,
            payment_status="paid" if status == "succeeded" else "unpaid",
        )
        emulator.emit("checkout.session.completed", session)
    elif session["status"] == "complete" and session["payment_status"] == "unpaid":
        if status == "succeeded":
            session["payment_status"] = "paid"
            emulator.emit("checkout.session.async_payment_succeeded", session)
        elif status == "requires_payment_method":
            emulator.emit("checkout.session.async_payment_failed", session)
