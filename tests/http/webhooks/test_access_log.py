"""The access log line of a webhook says what it did, and nothing else is logged at INFO."""

from __future__ import annotations

import logging

import pytest

from tests.support.access_log import access_lines, access_logged_client
from tests.support.deliveries import deliver, paid_by_card, webhook_settings
from tests.support.emulator import RunningEmulator


async def test_one_access_log_line_says_what_the_webhook_did(
    database_url: str, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with access_logged_client(webhook_settings(database_url, emulator)) as api:
        payment, event = await paid_by_card(api, emulator)
        caplog.clear()
        assert await deliver(api, [event]) == ["applied"]
        lines = await access_lines(caplog, "POST /webhooks")
    assert len(lines) == 1
    fields = lines[0].__dict__
    assert fields["event_id"] == event["id"]
    assert fields["event_type"] == "payment_intent.succeeded"
    assert fields["outcome"] == "applied"
    assert fields["payment_id"] == payment["payment_id"]
    assert fields["status"] == 200
    # and nothing else at INFO for it: one line per webhook
    assert not [r for r in caplog.records if r.name.startswith("service.") and r.levelno >= 20]
