"""Fixtures for /webhooks/stripe: the service with a webhook secret, the emulator, and a
direct database connection to look at the inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from tests.support.api import Client
from tests.support.deliveries import webhook_settings
from tests.support.emulator import RunningEmulator, running_emulator


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(processing_delay=0.05) as running:
        yield running


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> Client:
    return await aiohttp_client(create_app(webhook_settings(database_url, emulator)))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
