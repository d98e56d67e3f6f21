"""Whether a signed event belongs to the payment it names (issue 14, item 1).

A signature proves an event came from our Stripe account, not that its object is the one
we made for a payment: anything in that account (another integration, a dashboard user)
can copy our `paylive_payment_id` into some other object's metadata. An event found by
the Stripe id we recorded is ours; one found only through that metadata must agree with
the payment on flow, amount, currency and ids before it changes anything. Events of the
other mode (live vs test) never apply.

A Checkout Session's PaymentIntent carries our metadata (``payment_intent_data``) but
nothing naming its session, so until the session's own event names it, such a
PaymentIntent is *unbound*: it may record its attempt (history), but neither claims the
payment's intent id nor sets its status; the session's events do that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from service.payments.models import Flow, Payment
from service.payments.ports import PaymentsTx

# Why an event was refused: the /metrics label and the inbox row's last_error.
MismatchReason = Literal["livemode", "flow", "amount", "currency", "object_id"]


@dataclass(frozen=True, slots=True)
class Claim:
    """What an event's object says about the payment it names."""

    flow: Flow  # the kind of object: a Checkout Session, or a PaymentIntent
    amount: int | None
    currency: str | None
    intent: str | None = None  # the PaymentIntent (a session's, once it has one)
    session: str | None = None


@dataclass(frozen=True, slots=True)
class Bound:
    """The payment an event applies to; `unbound`: a PaymentIntent found only through
    the metadata of a Checkout payment that has no intent id yet (attempts only)."""

    payment: Payment
    unbound: bool = False


@dataclass(frozen=True, slots=True)
class Mismatch:
    payment_id: UUID
    reason: MismatchReason


def mismatch(payment: Payment, claim: Claim) -> MismatchReason | None:
    """Why an object found through our metadata is not this payment's, or None."""
    if claim.flow == "checkout_session" and payment.flow != "checkout_session":
        return "flow"
    if claim.session is not None and payment.stripe_checkout_session_id not in (
        None,
        claim.session,
    ):
        return "object_id"
    if claim.intent is not None and payment.stripe_payment_intent_id not in (None, claim.intent):
        return "object_id"
    if claim.amount != payment.amount:
        return "amount"
    if claim.currency != payment.currency:
        return "currency"
    return None


async def bound_payment(tx: PaymentsTx, ours: UUID | None, claim: Claim) -> Bound | Mismatch | None:
    """The payment (locked FOR UPDATE) an event applies to; None: not ours at all."""
    payment = await tx.get_payment_by_stripe_id(
        payment_intent=claim.intent if claim.flow == "payment_intent" else None,
        checkout_session=claim.session,
        for_update=True,
    )
    if payment is not None:
        return Bound(payment)  # found by the Stripe id we recorded: ours
    if ours is None:
        return None
    payment = await tx.get_payment(ours, for_update=True)
    if payment is None:
        return None
    reason = mismatch(payment, claim)
    if reason is not None:
        return Mismatch(payment.id, reason)
    unbound = (
        claim.flow == "payment_intent"
        and payment.flow == "checkout_session"
        and payment.stripe_payment_intent_id is None
    )
    return Bound(payment, unbound=unbound)
