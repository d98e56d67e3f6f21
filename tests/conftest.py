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
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.postgres import TestPostgres

TEST_API_KEY = "test-api-key-0123456789abcdef"
TEST_STATUS_SECRET = "status-token-secret-0123456789abcdef0123"


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


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "api_keys": [TEST_API_KEY],
        "status_token_secret": TEST_STATUS_SECRET,
        "stripe_secret_key": "sk_test_paylive_emulator",
        # Nothing listens on port 9: tests that reach Stripe pass the emulator's URL.
        "stripe_api_base": "http://127.0.0.1:9",
        "db_pool_min_size": 1,
        "db_pool_max_size": 5,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """The Stripe emulator with its defaults; modules that need other knobs override it."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, settings: Settings
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(settings))
