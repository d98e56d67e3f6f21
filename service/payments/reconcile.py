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
   nothing. The watermark moves only past events that were applied, and only forward.

Pass 1 runs first, so a payment whose webhooks were all lost gets its status from the
PaymentIntent (marked ``reconcile`` on its timeline), and the backfill then adds the
attempts those events carry without moving the status back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from service.payments.apply_event import intent_amounts
from service.payments.ingest_event import InvalidEvent, check_event_shape, ingest_event
from service.payments.models import Change, Payment
from service.payments.ports import (
    GatewayCheckoutSession,
    GatewayError,
    GatewayInvalidRequest,
    GatewayPaymentIntent,
    PaymentGateway,
    PaymentsTx,
)
from service.payments.states import RANK, decide_transition, event_rank

log = logging.getLogger(__name__)

WATERMARK_KEY = "stripe_events_watermark"
EVENTS_PAGE = 100  # Stripe's largest page


class ReconcileTx(PaymentsTx, Protocol):
    """``PaymentsTx`` plus the queries reconciliation needs (``db/watermark_repo.py``)."""

    async def stale_payments(
        self, *, updated_before: datetime, updated_after: datetime | None, limit: int
    ) -> list[Payment]: ...
    async def get_service_state(self, key: str) -> dict[str, Any] | None: ...
    async def set_service_state(self, key: str, value: dict[str, Any]) -> None: ...


class ReconcileStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ReconcileTx]: ...


@dataclass
class ReconcileReport:
    checked: int = 0  # stale payments asked about at Stripe
    corrected: int = 0  # of those, changed by what Stripe said
    events_seen: int = 0  # events read from Stripe's list
    events_backfilled: int = 0  # of those, new to the inbox (not duplicates)
    errors: int = 0
    watermark: str | None = None  # the last event id applied, after this round
    corrected_to: dict[str, int] = field(default_factory=dict)  # by the status set

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReconcileStats:
    """Totals over every round of this process, read by /metrics."""

    rounds: int = 0
    failed_rounds: int = 0  # rounds that raised (the database was unreachable, ...)
    skipped_rounds: int = 0  # another process held the reconcile lock
    checked: int = 0
    corrected: int = 0
    events_backfilled: int = 0
    errors: int = 0
    last_success: float | None = None  # unix time of the last round that completed
    corrected_to: dict[str, int] = field(default_factory=dict)

    def add(self, report: ReconcileReport, at: float) -> None:
        self.rounds += 1
        self.checked += report.checked
        self.corrected += report.corrected
        self.events_backfilled += report.events_backfilled
        self.errors += report.errors
        for status, count in report.corrected_to.items():
            self.corrected_to[status] = self.corrected_to.get(status, 0) + count
        self.last_success = at


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
    await _backfill(
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
        ids = {} if payment.stripe_payment_intent_id else {"stripe_payment_intent_id": intent.id}
        if payment.status == intent.status:
            if ids:
                await tx.attach_stripe_ids(payment.id, **ids)
            return None
        fields = ids | intent_amounts(payment, intent.raw, intent.status)
        if not await _correct(
            tx, payment, intent.status, _rank(intent), asked_at, correction_id(intent), fields
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
        rank = event_rank("checkout.session.expired", "canceled")
        cause = f"reconcile:{session.id}:expired"
        fields = {"cancellation_reason": "expired"}
        if not await _correct(tx, payment, "canceled", rank, asked_at, cause, fields):
            return None
    return "canceled"


async def _correct(
    tx: ReconcileTx,
    payment: Payment,
    status: str,
    rank: int,
    asked_at: int,
    cause_id: str,
    fields: dict[str, Any],
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
        fields=fields,
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


def _rank(intent: GatewayPaymentIntent) -> int:
    """Ranked like the event that leads to this state: back to requires_payment_method
    with an error is a decline, which follows requires_action/processing (``event_rank``)."""
    if intent.status == "requires_payment_method" and intent.last_payment_error:
        return event_rank("payment_intent.payment_failed", intent.status)
    return event_rank(f"payment_intent.{intent.status}", intent.status)


# events backfill -------------------------------------------------------------------------


async def _backfill(
    store: ReconcileStore,
    gateway: PaymentGateway,
    report: ReconcileReport,
    *,
    lookback_from: int,
    max_pages: int,
) -> None:
    async with store.transaction() as tx:
        mark = await tx.get_service_state(WATERMARK_KEY)
    cursor: str | None = mark.get("id") if mark else None
    # Without a usable cursor: from the second before the watermark (the inbox drops what
    # was already seen), or from the look-back window on the first run.
    created_after = int(mark["created"]) - 1 if mark else lookback_from
    report.watermark = cursor
    for _ in range(max_pages):
        try:
            events, more = await gateway.list_events(
                created_after=None if cursor else created_after,
                starting_after=cursor,
                limit=EVENTS_PAGE,
            )
        except GatewayInvalidRequest as exc:
            if cursor is None:
                _count_error(report, "cannot list Stripe events", exc)
                return
            # The watermark event is gone (Stripe keeps 30 days): fall back to its time.
            log.warning("reconcile: watermark event %s not found; listing by time", cursor)
            cursor = None
            continue
        except GatewayError as exc:
            _count_error(report, "cannot list Stripe events", exc)
            return
        applied, complete = await _ingest_page(store, events, report)
        if applied is not None:
            await _save_watermark(store, applied)
            cursor = report.watermark = applied["id"]
        if not complete or not more or not events:
            return  # an event failed (retried next round from it), or nothing is left


async def _ingest_page(
    store: ReconcileStore, events: list[Mapping[str, Any]], report: ReconcileReport
) -> tuple[Mapping[str, Any] | None, bool]:
    """Each event through the webhook inbox, oldest first: the last one that went
    through, and whether all did.

    A failing event stops the page: the watermark must not pass it. ``ingest_event`` has
    already logged it and noted the failure on its inbox row.
    """
    last: Mapping[str, Any] | None = None
    for listed in events:
        event = dict(listed)
        report.events_seen += 1
        try:
            check_event_shape(event)
        except InvalidEvent as exc:
            log.warning("reconcile: skipping malformed event %s: %s", event.get("id"), exc)
            last = listed
            continue
        try:
            result = await ingest_event(event, store=store)
        except Exception:
            report.errors += 1
            return last, False
        if result.outcome != "duplicate":
            report.events_backfilled += 1
        last = listed
    return last, True


def _count_error(report: ReconcileReport, what: str, exc: GatewayError) -> None:
    report.errors += 1
    log.warning("reconcile: %s: %s: %s", what, type(exc).__name__, exc.stripe_message)


async def _save_watermark(store: ReconcileStore, event: Mapping[str, Any]) -> None:
    async with store.transaction() as tx:
        await tx.set_service_state(
            WATERMARK_KEY, {"id": event["id"], "created": int(event["created"])}
        )
