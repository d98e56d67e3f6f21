"""The inbox: the same event twice, concurrently, or all of a payment's events at once is
applied once."""

from __future__ import annotations

import asyncio

import asyncpg

from service.keys import WEBHOOK_STATS
from tests.support.api import Client, confirm_intent, create_payment_intent
from tests.support.deliveries import assert_consistent, events_of, paid_by_card, read
from tests.support.emulator import RunningEmulator
from tests.support.webhooks import post_event


async def test_same_event_twice_is_applied_once(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclined")
    [failed] = [
        e
        for e in events_of(emulator, made["payment_intent_id"])
        if e["type"].endswith("payment_failed")
    ]
    assert (await post_event(api, failed))[1]["outcome"] == "applied"
    assert (await post_event(api, failed))[1]["outcome"] == "duplicate"
    assert len(await read(api, made["payment_id"], "/attempts")) == 1
    timeline = await read(api, made["payment_id"], "/timeline")
    assert [e["cause_id"] for e in timeline].count(failed["id"]) == 1
    stats = api.app[WEBHOOK_STATS]
    assert stats.outcomes["applied"] >= 1
    assert stats.outcomes["duplicate"] >= 1
    assert stats.received_by_type["payment_intent.payment_failed"] == 2
    await assert_consistent(db, made["payment_id"])


async def test_same_event_concurrently_is_applied_once(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made, succeeded = await paid_by_card(api, emulator)
    results = await asyncio.gather(*(post_event(api, succeeded) for _ in range(8)))
    assert [status for status, _ in results] == [200] * 8
    outcomes = sorted(body["outcome"] for _, body in results)
    assert outcomes == ["applied"] + ["duplicate"] * 7
    payment = await read(api, made["payment_id"])
    assert (payment["status"], payment["version"]) == ("succeeded", 2)
    assert len(await read(api, made["payment_id"], "/attempts")) == 1
    await assert_consistent(db, made["payment_id"])


async def test_all_events_of_a_payment_at_once(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclined")
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
    events = events_of(emulator, made["payment_intent_id"])
    results = await asyncio.gather(*(post_event(api, e) for e in events + events))
    assert {status for status, _ in results} == {200}
    payment = await read(api, made["payment_id"])
    assert payment["status"] == "succeeded"
    attempts = await read(api, made["payment_id"], "/attempts")
    assert sorted(a["outcome"] for a in attempts) == ["failed", "succeeded"]
    await assert_consistent(db, made["payment_id"])
