"""The event rules against a real database, through the inbox pipeline (ingest_event).

The main property: Stripe does not order events (and retries failed ones), so every
order of a realistic sequence must end in the same payment.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.db.store import PgStore
from service.payments.ingest_event import ingest_event
from service.payments.models import Payment, StripeIds
from tests.support.payments import new_payment
from tests.support.store import against_the_database, run
from tests.support.webhooks import card_error, intent, make_event

T0 = 1_780_000_000
Event = dict[str, Any]


async def state(store: PgStore, payment: Payment) -> dict[str, Any]:
    """Everything that must not depend on the order the events came in."""
    async with store.transaction() as tx:
        now = await tx.get_payment(payment.id)
        assert now is not None
        attempts = await tx.attempts(payment.id)
        timeline = await tx.timeline(payment.id)
        refunds = await tx.refunds(payment.id)
    assert [e.version for e in timeline] == list(range(1, now.version + 1))
    return {
        "status": now.status,
        "amount_captured": now.amount_captured,
        "amount_refunded": now.amount_refunded,
        "cancellation_reason": now.cancellation_reason,
        "attempts": sorted((a.outcome, a.stripe_event_id) for a in attempts),
        "refunds": sorted((r.stripe_refund_id, r.amount, r.status) for r in refunds),
    }


async def deliver_like_stripe(store: PgStore, payment: Payment, events: list[Event]) -> None:
    """Deliver in the given order; Stripe redelivers what failed, later. Final statuses
    must never be left once reached, whatever comes after."""
    pending = list(events)
    for _ in range(len(events) + 1):
        failed = []
        for event in pending:
            async with store.transaction() as tx:
                before = await tx.get_payment(payment.id)
            try:
                await ingest_event(event, store=store)
            except asyncpg.PostgresError:
                failed.append(event)
            async with store.transaction() as tx:
                after = await tx.get_payment(payment.id)
            assert before is not None
            assert after is not None
            if before.status in ("succeeded", "canceled"):
                assert after.status == before.status, event["type"]
            assert after.version >= before.version
        if not failed:
            return
        pending = failed
    raise AssertionError(f"never applied: {[e['type'] for e in pending]}")


def ten_refunded(pi_id: str) -> Event:
    """A succeeded 10.00 refund of the PaymentIntent's charge (``ch_`` + the same suffix)."""
    return {
        "id": f"re_{pi_id[3:]}",
        "object": "refund",
        "amount": 1000,
        "charge": f"ch_{pi_id[3:]}",
        "currency": "usd",
        "metadata": {},
        "payment_intent": pi_id,
        "reason": None,
        "status": "succeeded",
    }


def charge_after(refund: Event, **extra: Any) -> Event:
    """The 25.00 charge once `refund` (10.00) is taken from it."""
    return {
        "id": refund["charge"],
        "object": "charge",
        "amount": 2500,
        "amount_captured": 2500,
        "amount_refunded": 1000,
        "payment_intent": refund["payment_intent"],
        "refunded": False,
        **extra,
        "metadata": {},
    }


def sequence(pi_id: str, kind: str, gaps: list[int]) -> list[Event]:
    """A realistic sequence for one PaymentIntent; `gaps` (0 or 1 s) allow ties."""
    times = [T0]
    for gap in gaps:
        times.append(times[-1] + gap)
    decline = card_error("card_declined", "insufficient_funds", advice_code="try_again_later")
    events = [
        make_event(
            "payment_intent.created", intent(pi_id, "requires_payment_method"), created=times[0]
        ),
        make_event(
            "payment_intent.requires_action", intent(pi_id, "requires_action"), created=times[1]
        ),
        make_event(
            "payment_intent.payment_failed",
            intent(pi_id, "requires_payment_method", last_payment_error=decline),
            created=times[2],
        ),
    ]
    if kind == "canceled":
        canceled = intent(pi_id, "canceled", cancellation_reason="abandoned")
        events.append(make_event("payment_intent.canceled", canceled, created=times[3]))
        return events
    events.append(
        make_event(
            "payment_intent.processing",
            intent(pi_id, "processing", payment_method="pm_1", latest_charge="ch_1"),
            created=times[3],
        )
    )
    if kind == "open":
        return events
    charge_id = f"ch_{pi_id[3:]}"
    events.append(
        make_event(
            "payment_intent.succeeded",
            intent(pi_id, "succeeded", payment_method="pm_1", latest_charge=charge_id),
            created=times[4],
        )
    )
    refund = ten_refunded(pi_id)
    charge = charge_after(refund)
    events.append(make_event("refund.created", refund, created=times[5]))
    events.append(make_event("charge.refunded", charge, created=times[5]))
    return events


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, list[int], list[int]]:
    kind = draw(st.sampled_from(["succeeded", "canceled", "open"]))
    gaps = draw(st.lists(st.integers(0, 1), min_size=5, max_size=5))
    size = {"succeeded": 7, "canceled": 4, "open": 4}[kind]
    order = draw(st.permutations(list(range(size))))
    return kind, gaps, order


EXPECTED_FINAL = {"succeeded": "succeeded", "canceled": "canceled"}


@against_the_database(max_examples=40)
@given(scenarios())
def test_every_order_ends_the_same(
    database_url: str, scenario: tuple[str, list[int], list[int]]
) -> None:
    kind, gaps, order = scenario

    async def body(store: PgStore) -> None:
        reference_payment, pi_a = await new_payment(store)
        shuffled_payment, pi_b = await new_payment(store)
        in_order = sequence(pi_a, kind, gaps)
        await deliver_like_stripe(store, reference_payment, in_order)
        shuffled = sequence(pi_b, kind, gaps)
        await deliver_like_stripe(store, shuffled_payment, [shuffled[i] for i in order])
        expected = await state(store, reference_payment)
        got = await state(store, shuffled_payment)
        # Same rows up to the ids that differ between the two payments.
        for name in ("attempts", "refunds"):
            expected[name] = [
                tuple(str(v).replace(pi_a[3:], "X") for v in row) for row in expected[name]
            ]
            got[name] = [tuple(str(v).replace(pi_b[3:], "X") for v in row) for row in got[name]]
        expected["attempts"] = [row[0] for row in expected["attempts"]]
        got["attempts"] = [row[0] for row in got["attempts"]]
        assert got == expected
        if kind in EXPECTED_FINAL:
            assert got["status"] == EXPECTED_FINAL[kind]
        if kind == "succeeded":
            assert (got["amount_captured"], got["amount_refunded"]) == (2500, 1000)

    run(database_url, body)


@against_the_database(max_examples=30)
@given(scenarios())
def test_every_order_records_the_same_attempts(
    database_url: str, scenario: tuple[str, list[int], list[int]]
) -> None:
    """The same events in two orders to one payment each: the same attempt rows by event id."""
    kind, gaps, order = scenario

    async def body(store: PgStore) -> None:
        first, pi_id = await new_payment(store)
        events = sequence(pi_id, kind, gaps)
        await deliver_like_stripe(store, first, [events[i] for i in order])
        async with store.transaction() as tx:
            attempts = {(a.outcome, a.stripe_event_id) for a in await tx.attempts(first.id)}
        expected = {
            (outcome, e["id"]) for e in events if (outcome := _outcome(e["type"])) is not None
        }
        assert attempts == expected
        # Redelivering everything changes nothing.
        before = await state(store, first)
        for event in events:
            assert (await ingest_event(event, store=store)).outcome == "duplicate"
        assert await state(store, first) == before

    run(database_url, body)


def _outcome(event_type: str) -> str | None:
    return {
        "payment_intent.succeeded": "succeeded",
        "payment_intent.payment_failed": "failed",
        "payment_intent.requires_action": "requires_action",
        "payment_intent.processing": "processing",
        "payment_intent.canceled": "canceled",
    }.get(event_type)


def test_found_by_metadata_then_by_id(database_url: str) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store, attach=False)
        meta = {"paylive_payment_id": str(payment.id)}
        first = make_event(
            "payment_intent.requires_action",
            intent(pi_id, "requires_action", metadata=meta),
            created=T0,
        )
        result = await ingest_event(first, store=store)
        assert (result.outcome, result.version) == ("applied", 2)
        async with store.transaction() as tx:
            now = await tx.get_payment(payment.id)
        assert now is not None
        assert now.stripe_payment_intent_id == pi_id
        later = make_event("payment_intent.succeeded", intent(pi_id, "succeeded"), created=T0 + 1)
        assert (await ingest_event(later, store=store)).outcome == "applied"
        # An older event after a final status records its attempt but changes no status.
        old = make_event(
            "payment_intent.payment_failed",
            intent(
                pi_id, "requires_payment_method", last_payment_error=card_error("card_declined")
            ),
            created=T0 - 5,
        )
        assert (await ingest_event(old, store=store)).outcome == "applied"
        got = await state(store, payment)
        assert got["status"] == "succeeded"
        assert [a for a, _ in got["attempts"]] == ["failed", "requires_action", "succeeded"]
        async with store.transaction() as tx:
            last = (await tx.timeline(payment.id))[-1]
        assert last.kind == "attempt_recorded"
        assert last.data["ignored_because"] == "current_is_final"

    run(database_url, body)


def test_no_change_events_leave_no_version(database_url: str) -> None:
    async def body(store: PgStore) -> None:
        _payment, pi_id = await new_payment(store)
        event = make_event(
            "payment_intent.amount_capturable_updated",
            intent(pi_id, "requires_payment_method"),
            created=T0,
        )
        # Same status as stored, no attempt: nothing visible, so no version and no push...
        result = await ingest_event(event, store=store)
        assert (result.outcome, result.version) == ("no_change", 1)
        # ...but its time is kept: an older event cannot move the status any more.
        older = make_event(
            "payment_intent.requires_action", intent(pi_id, "requires_action"), created=T0 - 1
        )
        result = await ingest_event(older, store=store)
        assert result.version == 2  # its attempt is recorded (a visible change)...
        async with store.transaction() as tx:
            current = await tx.get_payment(_payment.id)
        assert current is not None
        assert current.status == "requires_payment_method"  # ...but not its status

    run(database_url, body)


@pytest.mark.parametrize("refunded", [2500, 9999])
def test_charge_refunded_never_above_captured(database_url: str, refunded: int) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        ok = make_event("payment_intent.succeeded", intent(pi_id, "succeeded"), created=T0)
        await ingest_event(ok, store=store)
        charge = {
            "id": "ch_x",
            "object": "charge",
            "payment_intent": pi_id,
            "amount_refunded": refunded,
        }
        await ingest_event(make_event("charge.refunded", charge, created=T0 + 1), store=store)
        got = await state(store, payment)
        assert got["amount_refunded"] == 2500

    run(database_url, body)


def refund_failure_sequence(pi_id: str) -> list[Event]:
    """A refund that Stripe first reports succeeded and that fails later (card closed)."""
    refund = ten_refunded(pi_id)
    failed = {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    charge = charge_after(refund, refunds={"object": "list", "data": [refund], "has_more": False})
    return [
        make_event("refund.created", refund, created=T0 + 10),
        make_event("charge.refunded", charge, created=T0 + 10),
        make_event("refund.updated", failed, created=T0 + 11),
        make_event("refund.failed", failed, created=T0 + 11),
    ]


@against_the_database(max_examples=24)
@given(st.permutations(list(range(4))))
def test_a_failed_refund_ends_failed_in_every_order(database_url: str, order: list[int]) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        ok = make_event("payment_intent.succeeded", intent(pi_id, "succeeded"), created=T0)
        await ingest_event(ok, store=store)
        events = refund_failure_sequence(pi_id)
        await deliver_like_stripe(store, payment, [events[i] for i in order])
        got = await state(store, payment)
        assert got["refunds"] == [(f"re_{pi_id[3:]}", 1000, "failed")]
        assert (got["status"], got["amount_refunded"]) == ("succeeded", 0)

    run(database_url, body)


def test_refund_with_an_unknown_status_is_not_a_poison_event(database_url: str) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        ok = make_event("payment_intent.succeeded", intent(pi_id, "succeeded"), created=T0)
        await ingest_event(ok, store=store)
        refund = {"id": "re_odd", "object": "refund", "amount": 500, "payment_intent": pi_id}
        for status in (None, "some_future_status"):
            odd = make_event("refund.created", {**refund, "status": status}, created=T0 + 1)
            assert (await ingest_event(odd, store=store)).outcome == "no_change"
        got = await state(store, payment)
        assert (got["refunds"], got["amount_refunded"]) == ([], 0)

    run(database_url, body)


def test_refund_before_the_payment_succeeded_waits_for_it(database_url: str) -> None:
    """Stripe does not order events: a refund that lands before the payment is known
    captured today fails (Stripe retries it) without writing anything, then applies."""

    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        events = sequence(pi_id, "succeeded", [1, 1, 1, 1, 1])
        refund_created = events[5]
        try:
            first: str = (await ingest_event(refund_created, store=store)).outcome
        except asyncpg.CheckViolationError:
            first = "failed"
            async with store.transaction() as tx:
                assert await tx.refunds(payment.id) == []
                pending = await tx.inbox_unprocessed(1000)
            assert refund_created["id"] in {e["id"] for e in pending}
        await ingest_event(events[4], store=store)
        if first == "failed":  # Stripe's retry
            assert (await ingest_event(refund_created, store=store)).outcome == "applied"
        got = await state(store, payment)
        assert (got["status"], got["amount_refunded"]) == ("succeeded", 1000)

    run(database_url, body)


async def new_checkout_payment(store: PgStore) -> tuple[Payment, str, str]:
    payment, pi_id = await new_payment(store, attach=False)
    session_id = f"cs_test_{pi_id[3:]}"
    async with store.transaction() as tx:
        await tx.conn.execute(
            "UPDATE payments SET flow = 'checkout_session', amount = 3000 WHERE id = $1",
            payment.id,
        )
        payment = await tx.attach_stripe_ids(
            payment.id,
            StripeIds(stripe_checkout_session_id=session_id, stripe_payment_intent_id=pi_id),
        )
    return payment, pi_id, session_id


def checkout_sequence(pi_id: str, session_id: str, paid: bool, gaps: list[int]) -> list[Event]:
    """An async (bank-debit-like) Checkout payment: processing, then paid or failed."""
    t1, t2 = T0 + gaps[0], T0 + gaps[0] + gaps[1]
    session = {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": 3000,
        "metadata": {},
        "payment_intent": pi_id,
        "payment_status": "unpaid",
        "status": "complete",
    }
    processing = intent(pi_id, "processing", amount=3000, payment_method="pm_1")
    events = [
        make_event("payment_intent.created", intent(pi_id, "requires_payment_method"), created=T0),
        make_event("payment_intent.processing", processing, created=t1),
        make_event("checkout.session.completed", session, created=t1),
    ]
    if paid:
        done = intent(pi_id, "succeeded", amount=3000, payment_method="pm_1")
        events.append(make_event("payment_intent.succeeded", done, created=t2))
        paid_session = {**session, "payment_status": "paid"}
        events.append(
            make_event("checkout.session.async_payment_succeeded", paid_session, created=t2)
        )
    else:
        error = card_error("payment_method_provider_decline")
        failed = intent(pi_id, "requires_payment_method", amount=3000, last_payment_error=error)
        events.append(make_event("payment_intent.payment_failed", failed, created=t2))
        events.append(make_event("checkout.session.async_payment_failed", session, created=t2))
    return events


@against_the_database(max_examples=30)
@given(
    st.booleans(),
    st.lists(st.integers(0, 1), min_size=2, max_size=2),
    st.permutations(list(range(5))),
    st.sets(st.integers(0, 4)),
)
def test_checkout_events_in_every_order(
    database_url: str, paid: bool, gaps: list[int], order: list[int], only_session: set[int]
) -> None:
    """Session and PaymentIntent events interleaved in any order (and some PaymentIntent
    events lost): paid ends succeeded with the amount captured, failed ends retryable."""

    async def body(store: PgStore) -> None:
        payment, pi_id, session_id = await new_checkout_payment(store)
        events = checkout_sequence(pi_id, session_id, paid, gaps)
        kept = [
            events[i]
            for i in order
            if i not in only_session or events[i]["type"].startswith("checkout.")
        ]
        await deliver_like_stripe(store, payment, kept)
        got = await state(store, payment)
        if paid:
            assert (got["status"], got["amount_captured"]) == ("succeeded", 3000)
        else:
            assert got["status"] == "requires_payment_method"

    run(database_url, body)


def test_our_pending_refund_learns_its_stripe_id_and_moves_forward_only(
    database_url: str,
) -> None:
    """A refund row written by the API before Stripe answered (pending, no Stripe id) is
    found by the paylive_refund_id metadata; its status then only moves forward."""

    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        ok = make_event("payment_intent.succeeded", intent(pi_id, "succeeded"), created=T0)
        await ingest_event(ok, store=store)
        async with store.transaction() as tx:
            current = await tx.get_payment(payment.id)
            assert current is not None
            ours = await tx.add_refund(uuid.uuid4(), current, 800, "requested_by_customer")
        refund = {
            "id": f"re_{pi_id[3:]}",
            "object": "refund",
            "amount": 800,
            "payment_intent": pi_id,
            "metadata": {"paylive_refund_id": str(ours.id)},
            "reason": "requested_by_customer",
        }

        def at(status: str, offset: int, **extra: Any) -> Event:
            return make_event(
                f"refund.{'failed' if status == 'failed' else 'updated'}",
                {**refund, "status": status, **extra},
                created=T0 + offset,
            )

        pending, succeeded = at("pending", 1), at("succeeded", 2)
        failed = at("failed", 3, failure_reason="lost_or_stolen_card")
        assert (await ingest_event(pending, store=store)).outcome == "applied"
        assert (await ingest_event(succeeded, store=store)).outcome == "applied"
        got = await state(store, payment)
        assert got["refunds"] == [(refund["id"], 800, "succeeded")]
        assert got["amount_refunded"] == 800
        # A late copy of an older status changes nothing.
        late = make_event("refund.created", {**refund, "status": "pending"}, created=T0 + 1)
        assert (await ingest_event(late, store=store)).outcome == "no_change"
        assert (await ingest_event(failed, store=store)).outcome == "applied"
        again = make_event("refund.updated", {**refund, "status": "succeeded"}, created=T0 + 2)
        assert (await ingest_event(again, store=store)).outcome == "no_change"
        got = await state(store, payment)
        assert got["refunds"] == [(refund["id"], 800, "failed")]
        assert got["amount_refunded"] == 0
        async with store.transaction() as tx:
            [row] = await tx.refunds(payment.id)
        assert (row.id, row.failure_reason) == (ours.id, "lost_or_stolen_card")

    run(database_url, body)


def test_released_authorization_is_not_a_poison_event(database_url: str) -> None:
    """Canceling an uncaptured (manual capture) payment releases the authorization, and
    Stripe reports it as the charge refunded: nothing was captured, so nothing is applied
    and, above all, the event does not fail forever."""

    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        held = intent(pi_id, "requires_capture", amount_capturable=2500, latest_charge="ch_h")
        await ingest_event(
            make_event("payment_intent.amount_capturable_updated", held, created=T0),
            store=store,
        )
        canceled = intent(pi_id, "canceled", cancellation_reason="requested_by_customer")
        await ingest_event(
            make_event("payment_intent.canceled", canceled, created=T0 + 1), store=store
        )
        refund = {
            "id": f"re_{pi_id[3:]}",
            "object": "refund",
            "amount": 2500,
            "charge": "ch_h",
            "payment_intent": pi_id,
            "metadata": {},
            "status": "succeeded",
        }
        charge = {
            "id": "ch_h",
            "object": "charge",
            "amount": 2500,
            "amount_captured": 0,
            "amount_refunded": 2500,
            "captured": False,
            "refunded": True,
            "payment_intent": pi_id,
            "metadata": {},
        }
        listed = {**charge, "refunds": {"object": "list", "data": [refund], "has_more": False}}
        for event in (
            make_event("charge.refunded", charge, created=T0 + 1),
            make_event("charge.refunded", listed, created=T0 + 1),
            make_event("refund.created", refund, created=T0 + 1),
        ):
            assert (await ingest_event(event, store=store)).outcome == "no_change"
        got = await state(store, payment)
        assert (got["status"], got["amount_captured"], got["amount_refunded"]) == (
            "canceled",
            0,
            0,
        )
        assert got["cancellation_reason"] == "requested_by_customer"

    run(database_url, body)


@pytest.mark.parametrize("charge_first", [True, False])
def test_succeeded_attempt_gets_its_card_from_the_charge_event(
    database_url: str, charge_first: bool
) -> None:
    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        charge = {
            "id": f"ch_{uuid.uuid4().hex[:20]}",
            "object": "charge",
            "payment_intent": pi_id,
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
        }
        charge_event = make_event("charge.succeeded", charge, created=T0)
        succeeded = make_event(
            "payment_intent.succeeded",
            intent(pi_id, "succeeded", latest_charge=charge["id"]),
            created=T0,
        )
        for event in [charge_event, succeeded] if charge_first else [succeeded, charge_event]:
            await ingest_event(event, store=store)
        async with store.transaction() as tx:
            [attempt] = await tx.attempts(payment.id)
            current = await tx.get_payment(payment.id)
        assert (attempt.outcome, attempt.card_brand, attempt.card_last4) == (
            "succeeded",
            "visa",
            "4242",
        )
        assert current is not None
        assert current.version == 2  # card details are history, not a new version

    run(database_url, body)


def test_charge_refund_list_before_the_capture_is_known_is_not_a_poison_event(
    database_url: str,
) -> None:
    """A charge.refunded carrying its refund list can land before payment_intent.succeeded:
    the succeeded refund proves the capture, so it applies at once (no CHECK failure on
    every retry) and the later success keeps it."""

    async def body(store: PgStore) -> None:
        payment, pi_id = await new_payment(store)
        refund = {
            "id": "re_early",
            "object": "refund",
            "amount": 1000,
            "charge": "ch_early",
            "payment_intent": pi_id,
            "metadata": {},
            "status": "succeeded",
        }
        charge = {
            "id": "ch_early",
            "object": "charge",
            "amount": 2500,
            "amount_captured": 2500,
            "amount_refunded": 1000,
            "captured": True,
            "payment_intent": pi_id,
            "metadata": {},
            "refunds": {"object": "list", "data": [refund], "has_more": False},
        }
        early = make_event("charge.refunded", charge, created=T0 + 2)
        assert (await ingest_event(early, store=store)).outcome == "applied"
        got = await state(store, payment)
        assert (got["amount_captured"], got["amount_refunded"]) == (1000, 1000)
        ok = make_event("payment_intent.succeeded", intent(pi_id, "succeeded"), created=T0 + 1)
        await ingest_event(ok, store=store)
        got = await state(store, payment)
        assert (got["status"], got["amount_captured"], got["amount_refunded"]) == (
            "succeeded",
            2500,
            1000,
        )

    run(database_url, body)
