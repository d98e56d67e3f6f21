"""Reconciliation (DESIGN §8): catch up with Stripe when webhooks were late or lost.

Two passes, both safe to repeat and to run in several processes at once:

1. Stale payments. Unfinished payments whose last change is older than a threshold are
   fetched from Stripe and the status found is applied through the same ordering rules
   as a webhook (``decide_transition``), as a ``reconcile`` change: version + 1, a
   timeline row and the NOTIFY that reaches subscribers. The retrieved PaymentIntent is
   Stripe's state as of the moment it was asked for, so that moment (whole seconds) is
   its ``stripe_state_at``: events created before it are older news, a later event
   still wins. No attempt row is made here: attempts come from real events (pass 2),
   which keeps one row per confirmation.
2. Backfill. Stripe's events list is read after a stored watermark and every event goes
   through the webhook inbox (``ingest_event``), so an event already received changes
   nothing. The watermark moves only past events that were applied, and only forward
   (``events_backfill.py``).

Pass 1 runs first, so a payment whose webhooks were all lost gets its status from the
PaymentIntent (marked ``reconcile`` on its timeline), and the backfill then adds the
attempts those events carry without moving the status back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from service.payments.event_rules import RULES, intent_state_rank
from service.payments.events_backfill import WATERMARK_KEY, backfill
from service.payments.intent_events import intent_amounts
from service.payments.models import Change, Payment, PaymentUpdate, StripeIds
from service.payments.ports import (
    GatewayCheckoutSession,
    GatewayError,
    GatewayPaymentIntent,
    PaymentGateway,
)
from service.payments.reconcile_records import (
    ReconcileReport,
    ReconcileStats,
    ReconcileStore,
    ReconcileTx,
)
from service.payments.states import RANK, decide_transition
from service.payments.stripe_objects import parse_intent_amounts

log = logging.getLogger(__name__)


__all__ = (
    "WATERMARK_KEY",
    "ReconcilePolicy",
    "ReconcileReport",
    "ReconcileStats",
    "ReconcileStore",
    "ReconcileTx",
    "correction_id",
    "reconcile_once",
)


@dataclass(frozen=True)
class ReconcilePolicy:
    """What one round looks at. Built from ``Settings`` (``service/bootstrap.py``), which
    holds the defaults; none here."""

    older_than_seconds: float  # a payment unchanged this long is asked about
    batch_size: int  # stale payments per round, most recently changed first
    max_age_seconds: float  # older unfinished payments are left alone
    lookback_seconds: int  # first backfill, before any watermark exists


async def reconcile_once(
    store: ReconcileStore,
    gateway: PaymentGateway,
    policy: ReconcilePolicy,
    *,
    now: datetime,
    max_event_pages: int = 50,
    clock: Callable[[], float] = time.time,
) -> ReconcileReport:
    """One round: stale payments, then the events backfill. Never raises for Stripe errors
    or a failing event (they are counted in ``errors`` and retried next round)."""
    report = ReconcileReport()
    await _check_stale(
        store,
        gateway,
        report,
        updated_before=now - timedelta(seconds=policy.older_than_seconds),
        updated_after=now - timedelta(seconds=policy.max_age_seconds),
        limit=policy.batch_size,
        clock=clock,
    )
    await backfill(
        store,
        gateway,
        report,
        lookback_from=int(clock()) - policy.lookback_seconds,
        max_pages=max_event_pages,
    )
    return report


# stale payments --------------------------------------------------------------------------


async def _check_stale(
    store: ReconcileStore,
    gateway: PaymentGateway,
    report: ReconcileReport,
    *,
    updated_before: datetime,
    updated_after: datetime | None,
    limit: int,
    clock: Callable[[], float],
) -> None:
    async with store.transaction() as tx:
        stale = await tx.stale_payments(
            updated_before=updated_before, updated_after=updated_after, limit=limit
        )
    for payment in stale:
        report.checked += 1
        asked_at = int(clock())  # before the calls: the answers are at least this fresh
        try:
            status = await _check_one(store, gateway, payment, asked_at)
        except GatewayError as exc:
            report.errors += 1
            log.warning(
                "reconcile: cannot fetch the payment from Stripe",
                extra={
                    "payment_id": str(payment.id),
                    "payment_intent": payment.stripe_payment_intent_id,
                    "checkout_session": payment.stripe_checkout_session_id,
                    "error": f"{type(exc).__name__}: {exc.stripe_message}",
                },
            )
            continue
        except Exception:
            report.errors += 1
            log.exception("reconcile: applying Stripe's state failed")
            continue
        if status is not None:
            report.corrected += 1
            report.corrected_to[status] = report.corrected_to.get(status, 0) + 1


async def _check_one(
    store: ReconcileStore, gateway: PaymentGateway, payment: Payment, asked_at: int
) -> str | None:
    """Bring one payment up to date with Stripe; the status set, or None.

    A Checkout payment has no PaymentIntent until the customer pays (Stripe makes it
    then): its session says whether one exists now, or whether it expired unpaid.
    """
    intent_id = payment.stripe_payment_intent_id
    if intent_id is None:
        assert payment.stripe_checkout_session_id is not None
        session = await gateway.retrieve_checkout_session(payment.stripe_checkout_session_id)
        if session.payment_intent is None:
            if session.status == "expired":
                return await _apply_session_expired(store, payment.id, session, asked_at)
            return None  # open, unpaid: nothing to correct
        intent_id = session.payment_intent
    intent = await gateway.retrieve_payment_intent(intent_id)
    return await _apply_intent(store, payment.id, intent, asked_at)


def correction_id(intent: GatewayPaymentIntent) -> str:
    """The timeline row's cause id: which PaymentIntent, in which state."""
    return f"reconcile:{intent.id}:{intent.status}"


async def _apply_intent(
    store: ReconcileStore, payment_id: UUID, intent: GatewayPaymentIntent, asked_at: int
) -> str | None:
    """Apply Stripe's status under the row lock; the new status, or None if unchanged."""
    async with store.transaction() as tx:
        payment = await tx.get_payment(payment_id, for_update=True)
        if (
            payment is None
            or payment.stripe_payment_intent_id not in (None, intent.id)
            or intent.status not in RANK
        ):
            return None
        # A Checkout payment learns its PaymentIntent here if no webhook told us.
        new_id = None if payment.stripe_payment_intent_id else intent.id
        if payment.status == intent.status:
            if new_id:
                await tx.attach_stripe_ids(payment.id, StripeIds(stripe_payment_intent_id=new_id))
            return None
        amounts = intent_amounts(payment, parse_intent_amounts(intent.raw), intent.status)
        update = replace(amounts, stripe_payment_intent_id=new_id)
        rank = intent_state_rank(intent.status, declined=bool(intent.last_payment_error))
        if not await _correct(
            tx, payment, intent.status, rank, asked_at, correction_id(intent), update
        ):
            return None
    return intent.status


async def _apply_session_expired(
    store: ReconcileStore, payment_id: UUID, session: GatewayCheckoutSession, asked_at: int
) -> str | None:
    """A Checkout Session that expired unpaid: the payment is canceled ("expired")."""
    async with store.transaction() as tx:
        payment = await tx.get_payment(payment_id, for_update=True)
        if payment is None or payment.stripe_checkout_session_id != session.id:
            return None
        rank = RULES["checkout.session.expired"].rank_of("canceled")
        cause = f"reconcile:{session.id}:expired"
        update = PaymentUpdate(cancellation_reason="expired")
        if not await _correct(tx, payment, "canceled", rank, asked_at, cause, update):
            return None
    return "canceled"


async def _correct(
    tx: ReconcileTx,
    payment: Payment,
    status: str,
    rank: int,
    asked_at: int,
    cause_id: str,
    update: PaymentUpdate,
) -> bool:
    """Set Stripe's `status` through the same ordering rules as webhooks; whether it was.

    Stripe's answer counts as an event created when we asked (`asked_at`)."""
    state_at = payment.stripe_state_at
    transition = decide_transition(
        payment.status,
        int(state_at.timestamp()) if state_at is not None else None,
        status,
        asked_at,
        current_rank=payment.stripe_state_rank,
        incoming_rank=rank,
    )
    if not transition.apply:
        log.info(
            "reconcile: Stripe's status not applied (%s)",
            transition.reason,
            extra={"payment_id": str(payment.id), "stripe_status": status},
        )
        return False
    change = Change(
        kind="reconciled",
        cause_type="reconcile",
        cause_id=cause_id,
        status=status,
        update=update,
        data={
            "stripe_status": status,
            "previous_status": payment.status,
            "reason": transition.reason,
        },
        stripe_state_at=datetime.fromtimestamp(asked_at, UTC),
        stripe_state_rank=rank,
    )
    await tx.apply_change(payment, change)
    log.info(
        "reconcile: payment corrected",
        extra={"payment_id": str(payment.id), "from": payment.status, "to": status},
    )
    return True
