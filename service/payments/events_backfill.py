"""Reconciliation's second pass (DESIGN §8): Stripe's events list, read after a stored
watermark, goes through the webhook inbox (``ingest_event``), so an event already
received changes nothing. The watermark moves only past events that went through, and
only forward."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from service.payments.ingest_event import InvalidEvent, check_event_shape, ingest_event
from service.payments.ports import GatewayError, GatewayInvalidRequest, PaymentGateway
from service.payments.reconcile_records import ReconcileReport, ReconcileStore

log = logging.getLogger(__name__)

WATERMARK_KEY = "stripe_events_watermark"
EVENTS_PAGE = 100  # Stripe's largest page


async def backfill(
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
