"""The app with its JSON access log (as ``serve`` writes it), and waiting for its lines."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.app import create_app
from service.config import Settings
from service.http.request_id import JsonAccessLogger
from tests.support.api import Client


@contextlib.asynccontextmanager
async def access_logged_client(settings: Settings) -> AsyncIterator[Client]:
    server = TestServer(create_app(settings))
    await server.start_server(access_log_class=JsonAccessLogger)
    async with TestClient(server) as api:
        yield api


async def access_lines(caplog: pytest.LogCaptureFixture, prefix: str) -> list[logging.LogRecord]:
    """The access-log lines whose message starts with `prefix` (e.g. "POST /webhooks")."""
    for _ in range(100):  # the access log is written once the answer has gone out
        lines = [r for r in caplog.records if r.getMessage().startswith(prefix)]
        if lines:
            return lines
        await asyncio.sleep(0.01)
    return []
