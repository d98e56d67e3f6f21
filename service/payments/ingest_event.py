"""The webhook inbox pipeline (DESIGN §4, steps 2 and 3), after the signature has been checked.

Apply, and store the event in the inbox marked processed, which the commit makes true.
Most deliveries are an event's first: its inbox row goes in with the change it makes, in
that change's own statement (``inbox_add``), one round trip fewer than claiming it
first. Where the event's rule allows (``EventRule.optimistic``) that statement is the
whole write, without a transaction, guarded by the payment as read (``_apply_first``);
other events, and those the guard turns back, are applied in one transaction. Should the
inbox hold it already (a repeated delivery, a concurrent one that committed first, or an
earlier try that failed), that statement fails whole (and its transaction, if any, rolls
back), and a transaction claims the row first as before: duplicates stop there, and an
earlier failure's row is applied and marked processed. An event that can never apply is
marked processed with the reason in its row's last_error (so Stripe stops sending it).
If anything fails the transaction rolls back whole, the failure is noted on the inbox
row in another transaction, and the error propagates so Stripe gets a 500 and retries.
"""

from __future__ import annotations

import logging
from typing import Any

from service.payments.apply_event import apply_event
from service.payments.event_common import EventResult
from service.payments.event_rules import OBJECT_FAMILIES, rule_for
from service.payments.ports import (
    ApplyUnderLock,
    EventAlreadyStored,
    InboxState,
    PaymentsTx,
    TransactionalStore,
)

log = logging.getLogger(__name__)

# Outcomes stored, acknowledged and flagged (never applied), with their log line.
_FLAGGED = {
    "unusable": "webhook event can never apply; acknowledged and flagged",
    "mismatch": "webhook event does not belong to the payment it names; acknowledged and flagged",
}


class InvalidEvent(ValueError):
    """The body is not a Stripe event object."""


def check_event_shape(event: object) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidEvent("the body is not a JSON object")
    if not isinstance(event.get("id"), str) or not 1 <= len(event["id"]) <= 255:
        raise InvalidEvent("id must be a string")
    if not isinstance(event.get("type"), str):
        raise InvalidEvent("type must be a string")
    if not isinstance(event.get("created"), int) or isinstance(event.get("created"), bool):
        raise InvalidEvent("created must be an integer")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidEvent("data.object must be an object")
    # Objects of some events have no id (balance.available's balance): those events are
    # irrelevant here and must be answered 200, or Stripe retries them for days.
    if event["type"].startswith(OBJECT_FAMILIES) and not isinstance(data["object"].get("id"), str):
        raise InvalidEvent("data.object.id must be a string")
    return event


async def ingest_event(
    event: dict[str, Any],
    *,
    store: TransactionalStore,
    raw: str | None = None,
    livemode: bool | None = None,
) -> EventResult:
    """`raw`: the event's JSON text as received, if at hand (kept in the inbox as is).

    `livemode`: the mode of our Stripe key; an event of the other mode is stored and
    flagged, never applied. None only where events come from Stripe's API with that key
    (reconciliation's backfill), which lists its own mode's events alone.
    """
    try:
        try:
            result = await _apply_first(event, store, raw, livemode)
        except EventAlreadyStored:  # the inbox knows it: what its row says decides
            result = await _apply_once(event, store, raw, livemode, claim_first=True)
    except Exception as exc:
        log.warning(
            "webhook event failed; left unprocessed for Stripe's retry",
            extra={"event_id": event["id"], "event_type": event["type"], "error": repr(exc)},
        )
        try:
            async with store.transaction() as tx:
                await tx.inbox_record_failure(event, f"{type(exc).__name__}: {exc}", raw)
        except Exception as record_exc:  # the database itself is gone: Stripe will retry
            log.warning("could not note the failure: %r", record_exc)
        raise
    if result.outcome in _FLAGGED:
        log.warning(
            _FLAGGED[result.outcome],
            extra={
                "event_id": event["id"],
                "event_type": event["type"],
                "reason": result.reason,
                "payment_id": str(result.payment_id) if result.payment_id else None,
            },
        )
    # DEBUG: the webhook's access-log line carries the same fields at INFO.
    log.debug(
        "webhook event %s",
        result.outcome,
        extra={
            "event_id": event["id"],
            "event_type": event["type"],
            "payment_id": str(result.payment_id) if result.payment_id else None,
            "version": result.version,
        },
    )
    return result


async def _apply_first(
    event: dict[str, Any], store: TransactionalStore, raw: str | None, livemode: bool | None
) -> EventResult:
    """An event's first try. Where its rule allows, without BEGIN, COMMIT or the
    payment's lock (``TransactionalStore.optimistic``): its change, its attempt and its
    inbox row are one statement that writes only if the payment is still as read. Should
    it have moved, or the event need what that cannot vouch for (``ApplyUnderLock``:
    nothing was written), it is applied in a transaction, as every other event is."""
    rule = rule_for(str(event["type"]))
    if rule is not None and rule.optimistic:
        try:
            async with store.optimistic() as tx:
                tx.inbox_add(event, raw)
                return await _apply(tx, event, livemode, claim="new")
        except ApplyUnderLock as exc:
            log.debug("event %s goes under the payment's lock: %s", event["id"], exc)
    return await _apply_once(event, store, raw, livemode, claim_first=False)


async def _apply_once(
    event: dict[str, Any],
    store: TransactionalStore,
    raw: str | None,
    livemode: bool | None,
    *,
    claim_first: bool,
) -> EventResult:
    """One transaction. `claim_first`: the inbox row is claimed before anything else
    (duplicates stop there); otherwise it is added with the event's change, and
    ``EventAlreadyStored`` rolls everything back if the inbox held it already."""
    async with store.transaction() as tx:
        if claim_first:
            claim = await tx.inbox_claim(event, raw)
            if claim == "processed":
                return EventResult("duplicate")
        else:
            tx.inbox_add(event, raw)
            claim = "new"
        return await _apply(tx, event, livemode, claim=claim)


async def _apply(
    tx: PaymentsTx, event: dict[str, Any], livemode: bool | None, *, claim: InboxState
) -> EventResult:
    """The event applied, or flagged, with its inbox row claimed (or staged) as `claim`."""
    if livemode is not None and (event.get("livemode") is True) != livemode:
        result = EventResult("mismatch", reason="livemode")
    else:
        result = await apply_event(tx, event)
    if result.outcome in _FLAGGED:  # kept, acknowledged, and flagged with why
        await tx.inbox_mark_unusable(event["id"], f"{result.outcome}: {result.reason}")
    elif claim == "pending":  # a new row went in marked processed, on commit
        await tx.inbox_mark_processed(event["id"])
    return result
