"""The emulator delivers webhooks itself to the running service, also duplicated and
reordered: the payment ends the same."""

from __future__ import annotations

import uuid

import aiohttp
import asyncpg

from service.app import create_app
from service.keys import WEBHOOK_STATS
from tests.support.api import API, confirm_intent
from tests.support.deliveries import assert_consistent, webhook_settings
from tests.support.emulator import running_app, running_emulator
from tests.support.webhooks import WEBHOOK_SECRET


async def test_decline_then_success_delivered_by_the_emulator(
    database_url: str, db: asyncpg.Connection
) -> None:
    async with running_emulator(processing_delay=0.05) as emulator:
        app = create_app(webhook_settings(database_url, emulator))
        async with running_app(app) as service_url, aiohttp.ClientSession(service_url) as http:
            emulator.handle.config.webhook_url = f"{service_url}/webhooks/stripe"
            emulator.handle.config.webhook_secret = WEBHOOK_SECRET
            emulator.handle.knobs.retry_base = 0.05
            body = {"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd"}
            async with http.post("/api/payment-intents", json=body, headers=API) as response:
                made = await response.json()
                assert response.status == 201, made
            await confirm_intent(
                emulator, made["payment_intent_id"], "pm_card_chargeDeclinedExpiredCard"
            )
            await confirm_intent(emulator, made["payment_intent_id"], "pm_card_visa")
            await emulator.handle.wait_idle()
            assert all(d.ok for d in emulator.handle.deliveries)
            pid = made["payment_id"]
            async with http.get(f"/api/payments/{pid}", headers=API) as response:
                payment = await response.json()
            async with http.get(f"/api/payments/{pid}/attempts", headers=API) as response:
                attempts = (await response.json())["data"]
            assert payment["status"] == "succeeded"
            assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
            # The success's card comes from its charge event (PaymentIntent events only
            # name the charge), whichever of the two was delivered first.
            assert (attempts[1]["card_brand"], attempts[1]["card_last4"]) == ("visa", "4242")
            assert attempts[0]["error"]["code"] == "expired_card"
            # advice_code confirm_card_data: new card details (e.g. the renewed expiry).
            assert attempts[0]["advice"]["next_step"] == "fix_card_details"
            stats = app[WEBHOOK_STATS]
            assert stats.received_by_type["payment_intent.succeeded"] == 1
            assert stats.received_by_type["payment_intent.payment_failed"] == 1
            assert stats.outcomes["failed"] == 0
            await assert_consistent(db, pid)

            # A refund through the API while its webhooks land at the same moment.
            async with http.post(
                f"/api/payments/{pid}/refunds", json={"amount": 1000}, headers=API
            ) as response:
                refunded = await response.json()
                assert response.status == 201, refunded
            await emulator.handle.wait_idle()
            async with http.get(f"/api/payments/{pid}", headers=API) as response:
                payment = await response.json()
            assert payment["amount_refunded"] == 1000
            rows = await db.fetch(
                "SELECT amount, status, stripe_refund_id FROM refunds WHERE payment_id = $1",
                uuid.UUID(pid),
            )
            assert [(r["amount"], r["status"]) for r in rows] == [(1000, "succeeded")]
            assert rows[0]["stripe_refund_id"] == refunded["refund"]["stripe_refund_id"]
            assert stats.outcomes["failed"] == 0
            await assert_consistent(db, pid)


async def test_duplicated_and_reordered_deliveries(
    database_url: str, db: asyncpg.Connection
) -> None:
    async with running_emulator(processing_delay=0.05, seed=7) as emulator:
        app = create_app(webhook_settings(database_url, emulator))
        async with running_app(app) as service_url, aiohttp.ClientSession(service_url) as http:
            emulator.handle.config.webhook_url = f"{service_url}/webhooks/stripe"
            emulator.handle.config.webhook_secret = WEBHOOK_SECRET
            emulator.handle.knobs.duplicate = True
            emulator.handle.knobs.shuffle_window = 0.2
            body = {"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd"}
            async with http.post("/api/payment-intents", json=body, headers=API) as response:
                made = await response.json()
            await confirm_intent(emulator, made["payment_intent_id"], "pm_card_chargeDeclined")
            await confirm_intent(emulator, made["payment_intent_id"], "pm_card_emulatorProcessing")
            await emulator.handle.wait_idle()
            assert all(d.ok for d in emulator.handle.deliveries)
            pid = made["payment_id"]
            async with http.get(f"/api/payments/{pid}", headers=API) as response:
                payment = await response.json()
            async with http.get(f"/api/payments/{pid}/attempts", headers=API) as response:
                attempts = (await response.json())["data"]
            assert payment["status"] == "succeeded"
            assert sorted(a["outcome"] for a in attempts) == ["failed", "processing", "succeeded"]
            stats = app[WEBHOOK_STATS]
            assert stats.outcomes["duplicate"] >= 1
            assert stats.outcomes["failed"] == 0
            await assert_consistent(db, pid)
