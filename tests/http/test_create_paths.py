"""Creation through the real app: its one access-log line, and an order whose payment
succeeded refused once the insert that settles most creations is turned down."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.app import create_app
from tests.support.access_log import access_lines, access_logged_client
from tests.support.api import API, Client
from tests.support.deliveries import deliver, paid_by_card, read, webhook_settings
from tests.support.emulator import RunningEmulator

PATH = "/api/payment-intents"


async def _create(api: Client, order_id: str, key: str) -> tuple[int, dict[str, Any]]:
    body = {"order_id": order_id, "amount": 2500, "currency": "usd"}
    response = await api.post(PATH, json=body, headers={**API, "Idempotency-Key": key})
    data: dict[str, Any] = await response.json()
    return response.status, data


async def test_a_creation_is_one_access_log_line_naming_the_payment(
    database_url: str, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with access_logged_client(webhook_settings(database_url, emulator)) as api:
        caplog.clear()
        status, made = await _create(api, "order-log-1", "key-log-1")
        assert status == 201, made
        [line] = await access_lines(caplog, f"POST {PATH}")
        fields = line.__dict__
        assert (fields["payment_id"], fields["order_id"]) == (made["payment_id"], "order-log-1")
        assert (fields["flow"], fields["reused"], fields["status"]) == (
            "payment_intent",
            False,
            201,
        )
        # nothing else at INFO for it: one line per creation
        assert not [r for r in caplog.records if r.name.startswith("service.") and r.levelno >= 20]

        caplog.clear()  # the same order again (another key): its open payment, handed back
        status, again = await _create(api, "order-log-1", "key-log-2")
        assert (status, again["payment_id"]) == (200, made["payment_id"])
        [line] = await access_lines(caplog, f"POST {PATH}")
        assert (line.__dict__["payment_id"], line.__dict__["reused"]) == (made["payment_id"], True)


async def test_an_order_already_paid_is_refused_with_its_payment(
    database_url: str, emulator: RunningEmulator
) -> None:
    server = TestServer(create_app(webhook_settings(database_url, emulator)))
    async with TestClient(server) as api:
        made, succeeded = await paid_by_card(api, emulator)
        assert await deliver(api, [succeeded]) == ["applied"]
        payment = await read(api, made["payment_id"])
        assert payment["status"] == "succeeded"
        status, refused = await _create(api, payment["order_id"], "key-paid-1")
        assert status == 409, refused
        assert refused["error"]["code"] == "order_already_paid"
        assert refused["error"]["details"]["payment_id"] == made["payment_id"]
