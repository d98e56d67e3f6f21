"""Apply one Stripe event to our payments, inside the caller's transaction (DESIGN §4).

Statuses follow the ordering rules of ``states.py``; attempts are recorded whatever the
order; refunds follow their own forward-only status. Events about PaymentIntents this
service did not create are acknowledged and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from service.payments.attempts import attempt_from_event
from service.payments.declines import FRAUD_CODES
from service.payments.models import Change, Payment, Refund
from service.payments.ports import PaymentsTx
from service.payments.refund_payment import record_refund_change
from service.payments.states import decide_transition, event_rank, status_for_event

Outcome = Literal["applied", "no_change", "not_ours", "ignored", "duplicate"]

# Refund statuses in the order they can follow each other (failed may follow succeeded).
_REFUND_RANK = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}

# A Checkout async payment failure is the session's view of payment_intent.payment_failed:
# it ends the processing of the same payment, so it wins a same-second tie the same way.
_RANKED_AS = {"checkout.session.async_payment_failed": "payment_intent.payment_failed"}


@dataclass(frozen=True)
class EventResult:
    outcome: Outcome
    payment_id: UUID | None = None
    version: int | None = None

    @classmethod
    def of(cls, payment: Payment, changed: bool) -> EventResult:
        return cls("applied" if changed else "no_change", payment.id, payment.version)


def _epoch(at: datetime | None) -> int | None:
    return int(at.timestamp()) if at is not None else None


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


async def apply_event(tx: PaymentsTx, event: dict[str, Any]) -> EventResult:
    kind: str = event["type"]
    obj: dict[str, Any] = event["data"]["object"]
    if kind.startswith("payment_intent."):
        return await _payment_intent_event(tx, event, obj)
    if kind.startswith("checkout.session."):
        return await _checkout_event(tx, event, obj)
    if kind.startswith("refund.") or kind == "charge.refund.updated":
        return await _refund_event(tx, event, obj)
    if kind == "charge.refunded":
        return await _charge_refunded(tx, event, obj)
    return EventResult("ignored")


async def _find(
    tx: PaymentsTx, obj: dict[str, Any], *, intent: str | None, session: str | None
) -> Payment | None:
    """By Stripe id, else by the paylive_payment_id we put in the metadata."""
    payment = await tx.get_payment_by_stripe_id(
        payment_intent=intent, checkout_session=session, for_update=True
    )
    if payment is None:
        metadata = obj.get("metadata") or {}
        ours = _uuid(metadata.get("paylive_payment_id"))
        payment = await tx.get_payment(ours, for_update=True) if ours else None
        if payment is not None and (
            (intent and payment.stripe_payment_intent_id not in (None, intent))
            or (session and payment.stripe_checkout_session_id not in (None, session))
        ):
            # metadata copied onto some other PaymentIntent or Checkout Session: not ours
            return None
    return payment


def _status_change(
    payment: Payment,
    event: dict[str, Any],
    status: str | None,
    fields: dict[str, Any],
    data: dict[str, Any],
) -> Change | None:
    if status is None:
        return None
    created = int(event["created"])
    rank = event_rank(_RANKED_AS.get(event["type"], event["type"]), status)
    transition = decide_transition(
        payment.status,
        _epoch(payment.stripe_state_at),
        status,
        created,
        current_rank=payment.stripe_state_rank,
        incoming_rank=rank,
    )
    if not transition.apply:
        data["ignored_because"] = transition.reason
        return None
    return Change(
        kind=event["type"],
        cause_type="stripe_event",
        cause_id=event["id"],
        status=status,
        fields=fields,
        data=data,
        stripe_state_at=datetime.fromtimestamp(created, UTC),
        stripe_state_rank=rank,
    )


async def _payment_intent_event(
    tx: PaymentsTx, event: dict[str, Any], intent: dict[str, Any]
) -> EventResult:
    payment = await _find(tx, intent, intent=intent["id"], session=None)
    if payment is None:
        return EventResult("not_ours")
    attempt = attempt_from_event(event)
    recorded = bool(attempt) and await tx.add_attempt(payment.id, attempt or {})
    ids: dict[str, Any] = {}
    if payment.stripe_payment_intent_id is None:
        ids["stripe_payment_intent_id"] = intent["id"]
    status = status_for_event(event["type"], intent.get("status"))
    data: dict[str, Any] = {"stripe_status": intent.get("status")}
    if recorded and attempt:
        data["attempt"] = _attempt_summary(attempt)
    fields = ids | _intent_amounts(payment, intent, status)
    change = _status_change(payment, event, status, fields, data)
    if change is None and (recorded or ids):
        change = Change(
            kind="attempt_recorded" if recorded else "stripe_ids_attached",
            cause_type="stripe_event",
            cause_id=event["id"],
            fields=ids,
            data={**data, "event_type": event["type"]},
        )
    if change is None:
        return EventResult.of(payment, changed=False)
    return EventResult.of(await tx.apply_change(payment, change), changed=True)


def _intent_amounts(payment: Payment, intent: dict[str, Any], status: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    received = intent.get("amount_received")
    if status == "succeeded" and isinstance(received, int) and 0 < received <= payment.amount:
        fields["amount_captured"] = max(received, payment.amount_refunded)
    capturable = intent.get("amount_capturable")
    if isinstance(capturable, int) and 0 <= capturable <= payment.amount:
        fields["amount_capturable"] = capturable
    if status == "canceled" and payment.flow == "checkout_session":
        # A Checkout Session's PaymentIntent cannot be canceled directly, only by the
        # session expiring, and whichever of the two events lands first is final.
        fields["cancellation_reason"] = "expired"
    elif status == "canceled" and intent.get("cancellation_reason"):
        fields["cancellation_reason"] = intent["cancellation_reason"]
    return fields


def _attempt_summary(attempt: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "outcome",
        "error_code",
        "decline_code",
        "advice_next_step",
        "advice_retryable",
        "advice_message",
        "card_brand",
        "card_last4",
    )
    summary = {key: attempt[key] for key in keys if attempt.get(key) is not None}
    if summary.get("decline_code") in FRAUD_CODES:
        # The timeline is replayed to the browser: a fraud decline must look generic (§7).
        summary["decline_code"] = "generic_decline"
    return summary


async def _checkout_event(
    tx: PaymentsTx, event: dict[str, Any], session: dict[str, Any]
) -> EventResult:
    intent = session.get("payment_intent")
    intent_id = intent if isinstance(intent, str) else None
    payment = await _find(tx, session, intent=None, session=session["id"])
    if payment is None:
        return EventResult("not_ours")
    fields: dict[str, Any] = {}
    if intent_id and payment.stripe_payment_intent_id is None:
        fields["stripe_payment_intent_id"] = intent_id
    payment_status = session.get("payment_status")
    status = status_for_event(
        event["type"], payment_status if isinstance(payment_status, str) else None
    )
    total = session.get("amount_total")
    if status == "succeeded" and isinstance(total, int) and 0 < total <= payment.amount:
        fields["amount_captured"] = total
    if status == "canceled":
        fields["cancellation_reason"] = "expired"
    data: dict[str, Any] = {
        "checkout_status": session.get("status"),
        "payment_status": payment_status,
    }
    change = _status_change(payment, event, status, fields, data)
    if change is None:
        return EventResult.of(payment, changed=False)
    return EventResult.of(await tx.apply_change(payment, change), changed=True)


async def _refund_event(tx: PaymentsTx, event: dict[str, Any], obj: dict[str, Any]) -> EventResult:
    intent = obj.get("payment_intent")
    payment = await _find(tx, obj, intent=intent if isinstance(intent, str) else None, session=None)
    if payment is None or not isinstance(obj.get("amount"), int):
        return EventResult("not_ours")
    if _nothing_captured(payment):
        return EventResult.of(payment, changed=False)
    refund = await _upsert_refund(tx, payment, obj)
    if refund is None:
        return EventResult.of(payment, changed=False)  # nothing new, or an older status
    updated = await record_refund_change(
        tx, payment.id, refund, cause_type="stripe_event", cause_id=event["id"]
    )
    return EventResult.of(updated, changed=True)


def _nothing_captured(payment: Payment) -> bool:
    """Canceled before any capture: a "refund" is the authorization being released.

    Stripe reports that as the charge refunded; there is nothing to refund on our side,
    and recording it would break amount_refunded <= amount_captured on every retry.
    """
    return payment.status == "canceled" and payment.amount_captured == 0


def _refund_is_stale(refund: Refund, status: str) -> bool:
    """Refund statuses only move forward: pending -> succeeded -> failed (Stripe's
    refund.failed comes after succeeded), never back, whatever order events arrive in."""
    incoming, current = _REFUND_RANK.get(status, -1), _REFUND_RANK.get(refund.status, -1)
    if incoming != current:
        return incoming < current
    # Same rank: the same status again, or the other terminal one, is nothing new; a
    # pending refund from our API still learns its Stripe id.
    return refund.stripe_refund_id is not None and (status == refund.status or current == 2)


async def _upsert_refund(tx: PaymentsTx, payment: Payment, obj: dict[str, Any]) -> Refund | None:
    """Record a Stripe refund object on our refund row (made if unknown); None: nothing new."""
    status = str(obj.get("status"))
    if status not in _REFUND_RANK:
        return None  # a status we do not know (the refunds CHECK would refuse it forever)
    refund = await tx.get_refund_by_stripe_id(obj["id"])
    if refund is None and (ours := _uuid((obj.get("metadata") or {}).get("paylive_refund_id"))):
        refund = await tx.get_refund(ours)
    if refund is None:
        return await tx.add_external_refund(
            uuid4(),
            payment,
            obj["id"],
            obj["amount"],
            status,
            obj.get("reason"),
        )
    if _refund_is_stale(refund, status):
        return None
    return await tx.update_refund(
        refund.id,
        stripe_refund_id=obj["id"],
        status=status,
        failure_reason=obj.get("failure_reason"),
    )


def _listed_refunds(charge: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The refund objects a charge carries (`refunds.data`), if it carries them."""
    listed = charge.get("refunds")
    data = listed.get("data") if isinstance(listed, dict) else None
    if not isinstance(data, list):
        return None
    return [
        r
        for r in data
        if isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("amount"), int)
    ]


async def _charge_refunded(
    tx: PaymentsTx, event: dict[str, Any], charge: dict[str, Any]
) -> EventResult:
    intent = charge.get("payment_intent")
    payment = await _find(
        tx, charge, intent=intent if isinstance(intent, str) else None, session=None
    )
    if payment is None:
        return EventResult("not_ours")
    if charge.get("captured") is False or _nothing_captured(payment):
        return EventResult.of(payment, changed=False)  # an authorization released
    listed = _listed_refunds(charge)
    if listed is not None:
        # The charge's own refund list is exact: record each refund (forward-only), and
        # amount_refunded follows our succeeded refunds, so a charge snapshot taken before
        # a refund failed cannot bring the failed amount back.
        changed = [r for obj in listed if (r := await _upsert_refund(tx, payment, obj))]
        total = await tx.succeeded_refund_total(payment.id)
        if not changed and total == payment.amount_refunded:
            return EventResult.of(payment, changed=False)
        change = Change(
            kind="charge.refunded",
            cause_type="stripe_event",
            cause_id=event["id"],
            fields={"amount_refunded": total},
            data={"amount_refunded": charge.get("amount_refunded"), "refunds": len(listed)},
        )
        return EventResult.of(await tx.apply_change(payment, change), changed=True)
    refunded = charge.get("amount_refunded")
    if not isinstance(refunded, int) or refunded <= payment.amount_refunded:
        return EventResult.of(payment, changed=False)
    change = Change(
        kind="charge.refunded",
        cause_type="stripe_event",
        cause_id=event["id"],
        fields={"amount_refunded": min(refunded, payment.amount_captured or refunded)},
        data={"amount_refunded": refunded},
    )
    return EventResult.of(await tx.apply_change(payment, change), changed=True)
