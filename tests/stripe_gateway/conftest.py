"""Fixtures: the emulator and a StripeGateway pointed at it; fast SDK retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import stripe

from service.stripe_gateway import StripeGateway
from tests.support.emulator import RunningEmulator, running_emulator


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(min_session_lifetime=1) as running:
        yield running


@pytest.fixture
async def gateway(emulator: RunningEmulator) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(emulator.secret_key, api_base=emulator.url, timeout_seconds=5)
    yield gw
    await gw.close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # stripe-python backs off 0.5 s, 1 s, ... between retries; the count is what matters here.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
