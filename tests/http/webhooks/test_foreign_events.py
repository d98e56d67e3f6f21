"""Events that are not ours: foreign, unknown and id-less objects, and paylive metadata
copied onto someone else's PaymentIntent or Checkout Session."""

from __future__ import annotations

import uuid

import asyncpg

from tests.support.api import Client, create_checkout, create_payment_intent
from tests.support.deliveries import read
from tests.support.webhooks import intent, make_event, post_event


async def test_foreign_and_unknown_events(api: Client, db: asyncpg.Connection) -> None:
    foreign = make_event("payment_intent.succeeded", intent(f"pi_{uuid.uuid4().hex}", "succeeded"))
    status, body = await post_event(api, foreign)
    assert (status, body["outcome"]) == (200, "not_ours")
    # Someone's metadata pointing at a payment id we do not have.
    spoof = make_event(
        "payment_intent.succeeded",
        intent(
            f"pi_{uuid.uuid4().hex}",
            "succeeded",
            metadata={"paylive_payment_id": str(uuid.uuid4())},
        ),
    )
    assert (await post_event(api, spoof))[1]["outcome"] == "not_ours"
    unknown = make_event("customer.created", {"id": "cus_123", "object": "customer"})
    status, body = await post_event(api, unknown)
    assert (status, body["outcome"]) == (200, "ignored")
    # Some objects have no id at all; the event is still Stripe's and answered 200.
    balance = make_event("balance.available", {"object": "balance", "available": [], "pending": []})
    status, body = await post_event(api, balance)
    assert (status, body["outcome"]) == (200, "ignored")
    rows = await db.fetch(
        "SELECT id, type, processed_at FROM stripe_events WHERE id = ANY($1::text[])",
        [foreign["id"], spoof["id"], unknown["id"], balance["id"]],
    )
    assert len(rows) == 4
    assert all(r["processed_at"] is not None for r in rows)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM payment_events WHERE cause_id = ANY($1::text[])",
            [foreign["id"], spoof["id"], unknown["id"]],
        )
        == 0
    )
    assert (await post_event(api, foreign))[1]["outcome"] == "duplicate"


async def test_metadata_copied_to_another_intent_is_not_applied(
    api: Client, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    other = intent(
        f"pi_{uuid.uuid4().hex}", "succeeded", metadata={"paylive_payment_id": made["payment_id"]}
    )
    # Flagged, not only ignored: it names a payment it does not belong to (issue 14).
    assert (await post_event(api, make_event("payment_intent.succeeded", other)))[1][
        "outcome"
    ] == "mismatch"
    payment = await read(api, made["payment_id"])
    assert (payment["status"], payment["version"]) == ("requires_payment_method", 1)


async def test_metadata_copied_to_another_checkout_session_is_not_applied(
    api: Client,
) -> None:
    data = await create_checkout(api)
    other = {
        "id": f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "amount_total": 3000,
        "metadata": {"paylive_payment_id": data["payment_id"]},
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "paid",
        "status": "complete",
    }
    event = make_event("checkout.session.completed", other)
    assert (await post_event(api, event))[1]["outcome"] == "mismatch"
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["version"]) == ("requires_payment_method", 1)
