"""Real events from the emulator, delivered to /webhooks/stripe: what a decline, a fraud
decline, 3-D Secure and a wrong CVC leave on the payment and its attempts."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.support.api import Client, confirm_intent, create_payment_intent
from tests.support.deliveries import assert_consistent, deliver, events_of, read
from tests.support.emulator import RunningEmulator


async def test_decline_then_success_from_emulator_events(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    pi_id = made["payment_intent_id"]
    declined = await confirm_intent(emulator, pi_id, "pm_card_chargeDeclinedInsufficientFunds")
    assert declined["error"]["decline_code"] == "insufficient_funds"
    assert (await confirm_intent(emulator, pi_id, "pm_card_visa"))["status"] == "succeeded"
    events = events_of(emulator, pi_id)
    types = [e["type"] for e in events]
    assert "payment_intent.payment_failed" in types
    assert "payment_intent.succeeded" in types

    outcomes = await deliver(api, events)
    assert "applied" in outcomes

    payment = await read(api, made["payment_id"])
    assert payment["status"] == "succeeded"
    assert payment["amount_captured"] == 2500
    attempts = await read(api, made["payment_id"], "/attempts")
    assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
    failed, succeeded = attempts
    assert failed["error"]["code"] == "card_declined"
    assert failed["error"]["decline_code"] == "insufficient_funds"
    # The issuer's advice_code (try_again_later) does not override insufficient funds' own
    # advice (issue 15): "use another card", and a message that does not say try again.
    assert failed["error"]["advice_code"] == "try_again_later"
    assert failed["advice"]["next_step"] == "use_another_card"
    assert failed["advice"]["retryable"] is False
    assert "another card" in failed["advice"]["message"]
    assert "try again" not in failed["advice"]["message"]
    assert failed["charge_id"].startswith("ch_")
    assert (failed["card_brand"], failed["card_last4"]) == ("visa", "9995")
    assert succeeded["error"] is None
    assert succeeded["payment_method_id"] is not None
    assert {a["stripe_event_id"] for a in attempts} <= {e["id"] for e in events}

    timeline = await read(api, made["payment_id"], "/timeline")
    kinds = [e["kind"] for e in timeline]
    assert kinds[0] == "created"
    assert "payment_intent.payment_failed" in kinds
    assert kinds[-1] == "payment_intent.succeeded"
    assert timeline[-1]["status"] == "succeeded"
    assert [e["version"] for e in timeline] == list(range(1, payment["version"] + 1))
    assert all(e["cause_type"] == "stripe_event" for e in timeline[1:])
    await assert_consistent(db, made["payment_id"])
    processed = await db.fetchval(
        """SELECT count(*) FROM stripe_events
           WHERE id = ANY($1::text[]) AND processed_at IS NOT NULL""",
        [e["id"] for e in events],
    )
    assert processed == len(events)


@pytest.mark.parametrize(
    ("pm", "decline_code"),
    [
        ("pm_card_chargeDeclinedStolenCard", "stolen_card"),
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
        ("pm_card_radarBlock", "fraudulent"),
    ],
)
async def test_fraud_declines_are_shown_as_a_generic_decline(
    api: Client, emulator: RunningEmulator, pm: str, decline_code: str
) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], pm)
    await deliver(api, events_of(emulator, made["payment_intent_id"]))
    payment = await read(api, made["payment_id"])
    assert payment["status"] == "requires_payment_method"
    [attempt] = await read(api, made["payment_id"], "/attempts")
    assert attempt["outcome"] == "failed"
    assert attempt["advice"] == {
        "next_step": "use_another_card",
        "retryable": False,
        "message": "Your card was declined.",
    }
    # The timeline is what the browser replays (status token, WebSocket): nothing in it
    # tells a fraud decline from a plain one.
    token = {"X-Status-Token": made["status_token"]}
    response = await api.get(f"/api/payments/{made['payment_id']}/timeline", headers=token)
    assert response.status == 200
    text = await response.text()
    assert decline_code not in text
    assert '"decline_code": "generic_decline"' in text.replace('":"', '": "')
    # So is the attempt history read with the status token; the API key sees the truth.
    response = await api.get(f"/api/payments/{made['payment_id']}/attempts", headers=token)
    [seen] = (await response.json())["data"]
    assert seen["error"]["decline_code"] == "generic_decline"
    assert seen["error"]["network_decline_code"] is None
    assert decline_code not in await response.text()
    assert attempt["error"]["decline_code"] == decline_code


async def _three_ds(emulator: RunningEmulator, made: dict[str, Any], outcome: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.url}/3ds/{made['payment_intent_id']}/{outcome}",
            data={"client_secret": made["client_secret"]},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status < 400


async def test_three_d_secure_failed_then_completed(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    made = await create_payment_intent(api)
    pi_id = made["payment_intent_id"]
    assert (await confirm_intent(emulator, pi_id, "pm_card_authenticationRequired"))[
        "status"
    ] == "requires_action"
    await _three_ds(emulator, made, "fail")
    assert (await confirm_intent(emulator, pi_id, "pm_card_authenticationRequired"))[
        "status"
    ] == "requires_action"
    await _three_ds(emulator, made, "complete")
    events = events_of(emulator, pi_id)
    # Stripe's order, then the reverse: the same payment either way.
    await deliver(api, events[::-1])
    payment = await read(api, made["payment_id"])
    assert payment["status"] == "succeeded"
    attempts = await read(api, made["payment_id"], "/attempts")
    assert sorted(a["outcome"] for a in attempts) == [
        "failed",
        "requires_action",
        "requires_action",
        "succeeded",
    ]
    [failed] = [a for a in attempts if a["outcome"] == "failed"]
    assert failed["error"]["code"] == "payment_intent_authentication_failure"
    assert failed["advice"]["next_step"] == "authenticate"
    for action in (a for a in attempts if a["outcome"] == "requires_action"):
        assert action["advice"]["next_step"] == "authenticate"
    await assert_consistent(db, made["payment_id"])


async def test_incorrect_cvc_asks_to_fix_details(api: Client, emulator: RunningEmulator) -> None:
    made = await create_payment_intent(api)
    await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclinedIncorrectCvc")
    await deliver(api, events_of(emulator, made["payment_intent_id"]))
    [attempt] = await read(api, made["payment_id"], "/attempts")
    assert attempt["error"]["code"] == "incorrect_cvc"
    assert attempt["advice"]["next_step"] == "fix_card_details"
    assert attempt["advice"]["retryable"] is True
