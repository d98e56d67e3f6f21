"""Idempotent replay happens after authentication, in the authenticated caller's key
space: a revoked API key, an expired order token or a stray ``Bearer`` gets no stored
answer (and so no ``client_secret``), whatever ``Idempotency-Key`` it sends."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.keys import DB_POOL
from service.tokens import issue_order_token
from tests.support.api import Client
from tests.support.emulator import RunningEmulator
from tests.support.settings import TEST_API_KEY, make_settings

ORDER_SECRET = "order-token-secret-0123456789abcdef0123"
OLD_KEY = "old-api-key-0123456789abcdef0123"


async def _app(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator, **settings: Any
) -> Client:
    values: dict[str, Any] = {
        "stripe_api_base": emulator.url,
        "order_token_secret": ORDER_SECRET,
        **settings,
    }
    return await aiohttp_client(create_app(make_settings(database_url, **values)))


def _body(order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "amount": 2500, "currency": "usd"}


async def _post(
    api: Client, key: str, order_id: str, headers: dict[str, str]
) -> tuple[int, dict[str, Any], bool]:
    response = await api.post(
        "/api/payment-intents",
        json=_body(order_id),
        headers={**headers, "Idempotency-Key": key},
    )
    data: dict[str, Any] = await response.json()
    return response.status, data, response.headers.get("Idempotent-Replayed") == "true"


def _order_token(order_id: str, exp_in: int = 300, customer: str | None = None) -> str:
    exp = int(time.time()) + exp_in
    return issue_order_token(ORDER_SECRET.encode(), order_id, 2500, "usd", exp, customer=customer)


async def test_a_revoked_api_key_gets_no_replay(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    before = await _app(aiohttp_client, database_url, emulator, api_keys=[TEST_API_KEY, OLD_KEY])
    key, order_id = str(uuid.uuid4()), f"order-{uuid.uuid4()}"
    old = {"Authorization": f"Bearer {OLD_KEY}"}
    status, data, _ = await _post(before, key, order_id, old)
    assert status == 201
    assert data["client_secret"]

    after = await _app(aiohttp_client, database_url, emulator, api_keys=[TEST_API_KEY])
    status, data, replayed = await _post(after, key, order_id, old)
    assert (status, data["error"]["code"], replayed) == (401, "api_key_invalid", False)
    assert "client_secret" not in str(data)


async def test_an_expired_order_token_gets_no_replay(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    api = await _app(aiohttp_client, database_url, emulator)
    key, order_id = str(uuid.uuid4()), f"order-{uuid.uuid4()}"
    status, _, _ = await _post(api, key, order_id, {"X-Order-Token": _order_token(order_id)})
    assert status == 201
    expired = {"X-Order-Token": _order_token(order_id, exp_in=-3600)}
    status, data, replayed = await _post(api, key, order_id, expired)
    assert (status, data["error"]["code"], replayed) == (401, "token_expired", False)


async def test_a_stray_bearer_next_to_an_order_token_is_refused(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    api = await _app(aiohttp_client, database_url, emulator)
    key, order_id = str(uuid.uuid4()), f"order-{uuid.uuid4()}"
    junk = {"Authorization": "Bearer junk", "X-Order-Token": _order_token(order_id)}
    for _ in range(2):
        status, data, replayed = await _post(api, key, order_id, junk)
        assert (status, data["error"]["code"], replayed) == (401, "api_key_invalid", False)
    # Nothing was stored under the junk, so nothing can be replayed to it later.
    rows = await api.app[DB_POOL].fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE key = $1", key
    )
    assert rows == 0


async def test_key_spaces_are_identities(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    api = await _app(aiohttp_client, database_url, emulator)
    key, order_id = str(uuid.uuid4()), f"order-{uuid.uuid4()}"
    first = {"X-Order-Token": _order_token(order_id, customer="ann")}
    status, data, _ = await _post(api, key, order_id, first)
    assert status == 201
    # A token minted again for the same order and customer is the same caller.
    again = {"X-Order-Token": _order_token(order_id, exp_in=600, customer="ann")}
    status, replay, replayed = await _post(api, key, order_id, again)
    assert (status, replayed, replay) == (201, True, data)
    # The API key is another caller: its own key space, no replay of the browser's answer.
    status, _, replayed = await _post(
        api, key, order_id, {"Authorization": f"Bearer {TEST_API_KEY}"}
    )
    assert (status, replayed) == (200, False)
    principals = await api.app[DB_POOL].fetch(
        "SELECT principal FROM idempotency_keys WHERE key = $1 ORDER BY principal", key
    )
    assert [p["principal"].split(":")[0] for p in principals] == ["apikey", "order"]


@pytest.mark.parametrize("anonymous_allowed", [True, False])
async def test_anonymous_callers_get_no_replays(
    aiohttp_client: AiohttpClient,
    database_url: str,
    emulator: RunningEmulator,
    anonymous_allowed: bool,
) -> None:
    api = await _app(
        aiohttp_client, database_url, emulator, allow_anonymous_create=anonymous_allowed
    )
    key = str(uuid.uuid4())
    for _ in range(2):
        status, _, replayed = await _post(api, key, f"order-{uuid.uuid4()}", {})
        assert status == (201 if anonymous_allowed else 401)
        assert not replayed
    rows = await api.app[DB_POOL].fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE key = $1", key
    )
    assert rows == 0
