"""A signed event must belong to the payment it names (issue 14, item 1).

Each attack is a case: a signed event whose object is not the payment's, pointing at it
only through the `paylive_payment_id` metadata anyone in the Stripe account can copy. Each
is stored, acknowledged, flagged (log, /metrics, the inbox row) and changes nothing; the
payment's real objects keep working afterwards.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.config import Settings
from service.db.store import PgStore
from service.payments.event_binding import Claim, mismatch
from service.payments.ingest_event import ingest_event
from service.payments.models import Flow, Payment
from tests.support.payments import add_payment, payment_value
from tests.support.payments import change as change_status
from tests.support.settings import make_settings
from tests.support.store import open_store, run
from tests.support.webhooks import WEBHOOK_SECRET, intent, make_event, post_event

T0 = 1_780_000_000


async def new_payment(
    store: PgStore,
    *,
    flow: Flow = "checkout_session",
    session: str | None = None,
    intent_id: str | None = None,
) -> Payment:
    """A 100.00 EUR payment, with the Stripe ids given (none: not yet known)."""
    return await add_payment(
        store, intent_id=intent_id, session_id=session, flow=flow, amount=10_000, currency="eur"
    )


async def current(store: PgStore, payment: Payment) -> Payment:
    async with store.transaction() as tx:
        now = await tx.get_payment(payment.id)
    assert now is not None
    return now


async def inbox_flag(store: PgStore, event_id: str) -> tuple[bool, str | None]:
    """Whether the event is stored processed, and its flag."""
    async with store.connection() as tx:
        row = await tx.conn.fetchrow(
            "SELECT processed_at IS NOT NULL AS done, last_error FROM stripe_events WHERE id = $1",
            event_id,
        )
    assert row is not None, "the event must be stored"
    return row["done"], row["last_error"]


def session_obj(
    payment: Payment | None,
    *,
    session_id: str | None = None,
    amount_total: int = 10_000,
    currency: str = "eur",
    payment_intent: str | None = None,
    payment_status: str = "paid",
) -> dict[str, Any]:
    return {
        "id": session_id or f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "amount_total": amount_total,
        "currency": currency,
        "livemode": False,
        "metadata": {"paylive_payment_id": str(payment.id)} if payment else {},
        "mode": "payment",
        "payment_intent": payment_intent,
        "payment_status": payment_status,
        "status": "complete",
    }


# the attacks, one case each ----------------------------------------------------------------


def test_checkout_session_of_another_session_paid_50_cents_changes_nothing(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's first probe: 0.50 EUR paid on some other session that carries the
    metadata of a 100.00 EUR payment whose own session id is not recorded yet."""

    async def body(store: PgStore) -> None:
        payment = await new_payment(store)
        obj = session_obj(payment, amount_total=50)
        event = make_event("checkout.session.completed", obj, created=T0)
        with caplog.at_level(logging.WARNING, logger="service.payments.ingest_event"):
            result = await ingest_event(event, store=store, livemode=False)
        assert (result.outcome, result.reason) == ("mismatch", "amount")
        after = await current(store, payment)
        assert (after.status, after.version, after.amount_captured) == (
            "requires_payment_method",
            1,
            0,
        )
        assert after.stripe_payment_intent_id is None
        assert await inbox_flag(store, event["id"]) == (True, "mismatch: amount")
        assert any("does not belong" in r.getMessage() for r in caplog.records)
        # Acknowledged for good: a retry is a duplicate, still nothing applied.
        again = await ingest_event(event, store=store, livemode=False)
        assert again.outcome == "duplicate"

    run(database_url, body)


def test_foreign_intent_cannot_claim_a_checkout_payment(database_url: str) -> None:
    """The issue's second probe: a foreign PaymentIntent with the metadata (same amount,
    so only the binding to the session can tell) must not attach itself, nor finish the
    payment; the real session and its PaymentIntent then apply as usual."""

    async def body(store: PgStore) -> None:
        session_id = f"cs_test_{uuid.uuid4().hex}"
        payment = await new_payment(store, session=session_id)
        meta = {"paylive_payment_id": str(payment.id)}
        foreign = intent(f"pi_{uuid.uuid4().hex}", "succeeded", amount=10_000, metadata=meta)
        foreign["currency"] = "eur"
        result = await ingest_event(
            make_event("payment_intent.succeeded", foreign, created=T0), store=store, livemode=False
        )
        assert result.outcome in ("applied", "no_change")  # its attempt, as history
        after = await current(store, payment)
        assert after.stripe_payment_intent_id is None
        assert (after.status, after.amount_captured) == ("requires_payment_method", 0)

        real_pi = f"pi_{uuid.uuid4().hex}"
        completed = make_event(
            "checkout.session.completed",
            session_obj(payment, session_id=session_id, payment_intent=real_pi),
            created=T0 + 1,
        )
        assert (await ingest_event(completed, store=store, livemode=False)).outcome == "applied"
        real = intent(real_pi, "succeeded", amount=10_000, metadata=meta)
        real["currency"] = "eur"
        late = make_event("payment_intent.succeeded", real, created=T0 + 1)
        assert (await ingest_event(late, store=store, livemode=False)).outcome != "not_ours"
        after = await current(store, payment)
        assert (after.status, after.stripe_payment_intent_id) == ("succeeded", real_pi)
        assert after.amount_captured == 10_000

    run(database_url, body)


def test_session_names_its_intent_even_when_its_status_is_not_applied(database_url: str) -> None:
    """Only the session binds a Checkout payment to its PaymentIntent: it does so even
    when the payment is already final (e.g. reconciled first)."""

    async def body(store: PgStore) -> None:
        session_id = f"cs_test_{uuid.uuid4().hex}"
        payment = await change_status(
            store, await new_payment(store, session=session_id), "succeeded"
        )
        pi_id = f"pi_{uuid.uuid4().hex}"
        obj = session_obj(payment, session_id=session_id, payment_intent=pi_id)
        event = make_event("checkout.session.completed", obj, created=T0)
        assert (await ingest_event(event, store=store, livemode=False)).outcome == "applied"
        after = await current(store, payment)
        assert (after.status, after.stripe_payment_intent_id) == ("succeeded", pi_id)

    run(database_url, body)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 50, "amount_received": 50}, "amount"),
        ({"currency": "usd"}, "currency"),
    ],
)
def test_foreign_intent_of_other_amount_or_currency_is_flagged(
    database_url: str, change: dict[str, Any], reason: str
) -> None:
    async def body(store: PgStore) -> None:
        payment = await new_payment(store, flow="payment_intent")  # intent id not yet known
        obj = intent(
            f"pi_{uuid.uuid4().hex}",
            "succeeded",
            amount=10_000,
            metadata={"paylive_payment_id": str(payment.id)},
        )
        obj.update({"currency": "eur", **change})
        event = make_event("payment_intent.succeeded", obj, created=T0)
        result = await ingest_event(event, store=store, livemode=False)
        assert (result.outcome, result.reason) == ("mismatch", reason)
        after = await current(store, payment)
        assert (after.status, after.version, after.stripe_payment_intent_id) == (
            "requires_payment_method",
            1,
            None,
        )
        async with store.transaction() as tx:
            assert await tx.attempts(payment.id) == []

    run(database_url, body)


def test_checkout_event_for_an_intent_payment_is_flagged(database_url: str) -> None:
    async def body(store: PgStore) -> None:
        payment = await new_payment(store, flow="payment_intent")
        event = make_event("checkout.session.completed", session_obj(payment), created=T0)
        result = await ingest_event(event, store=store, livemode=False)
        assert (result.outcome, result.reason) == ("mismatch", "flow")
        assert (await current(store, payment)).status == "requires_payment_method"

    run(database_url, body)


def test_event_of_the_other_mode_never_applies(database_url: str) -> None:
    """Even found by its own recorded ids, a live event never applies to a test-mode
    service (nor a test event to a live one)."""

    async def body(store: PgStore) -> None:
        for ours, theirs in ((False, True), (True, False)):
            pi_id = f"pi_{uuid.uuid4().hex}"
            payment = await new_payment(store, flow="payment_intent", intent_id=pi_id)
            obj = intent(pi_id, "succeeded", amount=10_000)
            obj["currency"] = "eur"
            event = make_event("payment_intent.succeeded", obj, created=T0)
            event["livemode"] = theirs
            result = await ingest_event(event, store=store, livemode=ours)
            assert (result.outcome, result.reason) == ("mismatch", "livemode")
            assert (await current(store, payment)).version == 1
            assert await inbox_flag(store, event["id"]) == (True, "mismatch: livemode")

    run(database_url, body)


def test_the_service_knows_its_mode_from_its_key(database_url: str) -> None:
    assert make_settings(database_url, stripe_secret_key="sk_live_abc").livemode is True
    assert make_settings(database_url, stripe_secret_key="rk_live_abc").livemode is True
    assert make_settings(database_url, stripe_secret_key="sk_test_abc").livemode is False
    assert make_settings(database_url, stripe_secret_key=None).livemode is False


# through the webhook endpoint: acknowledged, counted in /metrics ---------------------------


@pytest.fixture
def hook_settings(database_url: str) -> Settings:
    return make_settings(database_url, stripe_webhook_secrets=[WEBHOOK_SECRET])


@pytest.fixture
async def hook_client(
    aiohttp_client: AiohttpClient, hook_settings: Settings
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(hook_settings))


async def mismatch_counts(client: TestClient[web.Request, web.Application]) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "paylive_webhook_event_mismatches"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def test_webhook_acknowledges_and_counts_mismatches(
    hook_client: TestClient[web.Request, web.Application], hook_settings: Settings
) -> None:
    assert hook_settings.database_url is not None
    async with open_store(hook_settings.database_url) as store:
        payment = await new_payment(store)
        status, answer = await post_event(
            hook_client,
            make_event("checkout.session.completed", session_obj(payment, amount_total=50)),
        )
        assert (status, answer["outcome"]) == (200, "mismatch")
        live = make_event("checkout.session.completed", session_obj(payment))
        live["livemode"] = True
        status, answer = await post_event(hook_client, live)
        assert (status, answer["outcome"]) == (200, "mismatch")
        assert (await current(store, payment)).version == 1
    counts = await mismatch_counts(hook_client)
    assert counts == {"amount": 1.0, "livemode": 1.0}


# the property ----------------------------------------------------------------------------

Difference = tuple[str, Any]
DIFFERENCES = st.one_of(
    st.tuples(st.just("amount"), st.integers(1, 99_999_999).filter(lambda a: a != 10_000)),
    st.tuples(
        st.just("currency"),
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=3).filter(lambda c: c != "eur"),
    ),
    st.tuples(st.just("flow"), st.just("payment_intent")),
    st.tuples(st.just("livemode"), st.just(True)),
)
EVENT_TYPES = st.sampled_from(
    [
        "payment_intent.succeeded",
        "payment_intent.processing",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.expired",
    ]
)


def differing_event(payment: Payment, event_type: str, diff: Difference) -> dict[str, Any]:
    """An event about an object other than the payment's own, naming it by metadata, that
    differs from it in one respect."""
    what, value = diff
    amount = value if what == "amount" else payment.amount
    currency = value if what == "currency" else payment.currency
    meta = {"paylive_payment_id": str(payment.id)}
    if event_type.startswith("checkout.") and what != "flow":
        obj = session_obj(payment, amount_total=amount, currency=currency)
    else:
        status = event_type.split(".")[-1].replace("payment_failed", "requires_payment_method")
        obj = intent(f"pi_{uuid.uuid4().hex}", status, amount=amount, metadata=meta)
        obj["currency"] = currency
    event = make_event(event_type, obj, created=T0)
    event["livemode"] = what == "livemode"
    return event


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event_type=EVENT_TYPES, diff=DIFFERENCES, checkout=st.booleans())
def test_any_differing_event_leaves_the_payment_unchanged(
    database_url: str, event_type: str, diff: Difference, checkout: bool
) -> None:
    async def body(store: PgStore) -> None:
        nonlocal checkout, event_type
        if diff[0] == "flow":  # a Checkout Session's event naming a PaymentIntent payment
            checkout, event_type = False, "checkout.session.completed"
        flow: Flow = "checkout_session" if checkout else "payment_intent"
        payment = await new_payment(store, flow=flow)
        event = differing_event(payment, event_type, diff)
        result = await ingest_event(event, store=store, livemode=False)
        assert result.outcome == "mismatch", (event_type, diff, result)
        assert await current(store, payment) == payment
        async with store.transaction() as tx:
            assert await tx.attempts(payment.id) == []
            assert len(await tx.timeline(payment.id)) == 1

    run(database_url, body)


def test_the_rule_itself() -> None:
    """``mismatch`` in isolation: the first difference found is the reason."""
    payment = payment_value(flow="checkout_session", stripe_checkout_session_id="cs_1")
    ok = Claim("checkout_session", 10_000, "eur", session="cs_1")
    assert mismatch(payment, ok) is None
    assert mismatch(payment, Claim("checkout_session", 10_000, "eur", session="cs_2")) == (
        "object_id"
    )
    assert mismatch(payment, Claim("payment_intent", 10_000, "eur", intent="pi_1")) is None
    assert mismatch(payment, Claim("payment_intent", None, "eur", intent="pi_1")) == "amount"
    assert mismatch(payment, Claim("payment_intent", 10_000, None, intent="pi_1")) == "currency"
