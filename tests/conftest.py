"""Session-wide fixtures: one throwaway PostgreSQL server, a fresh database per module."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.config import Settings
from service.db.store import PgStore
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.postgres import TestPostgres
from tests.support.settings import TEST_API_KEY, TEST_STATUS_SECRET, make_settings
from tests.support.store import open_store

# Re-exported: other branches still import these names from here (tests.support.settings).
__all__ = ["TEST_API_KEY", "TEST_STATUS_SECRET", "make_settings"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[TestPostgres]:
    server = TestPostgres.start(os.environ.get("TEST_DATABASE_URL"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def database_url(postgres: TestPostgres, request: pytest.FixtureRequest) -> Iterator[str]:
    url = postgres.create_database(request.module.__name__)
    yield url
    postgres.drop_database(url)


@pytest.fixture
def empty_database_url(postgres: TestPostgres, request: pytest.FixtureRequest) -> Iterator[str]:
    url = postgres.create_database(request.node.name, migrated=False)
    yield url
    postgres.drop_database(url)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The Stripe emulator with its defaults; modules that need other knobs override it."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PgStore]:
    """The module's database through a store on a pool of its own (no app needed)."""
    async with open_store(database_url) as opened:
        yield opened


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, settings: Settings
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(settings))
