"""``Idempotency-Key`` end to end: replay, reuse, in-flight, leases, expiry, what is stored."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from pytest_aiohttp import AiohttpClient

from service import errors
from service.app import create_app
from service.config import Settings
from service.db import idempotency_repo as repo
from service.http.errors import error_middleware
from service.http.idempotency import fingerprint, idempotency_middleware
from service.keys import DB_POOL
from service.tokens import issue_order_token
from tests.support.api import API, Client
from tests.support.settings import TEST_API_KEY, make_settings

SECOND_API_KEY = "second-api-key-0123456789abcdef"
ORDER_SECRET = "order-token-secret-0123456789abcdef0123"


@dataclass
class Harness:
    client: Client
    calls: Counter[str] = field(default_factory=Counter)
    # The first call to /api/slow waits for ``gate``; later calls do not.
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def count_rows(self) -> int:
        pool = self.client.app[DB_POOL]
        count: int = await pool.fetchval("SELECT count(*) FROM idempotency_keys")
        return count


MakeHarness = Callable[..., Awaitable[Harness]]


def _routes(app: web.Application, harness_ref: list[Harness]) -> None:
    def calls() -> Counter[str]:
        return harness_ref[0].calls

    async def things(request: web.Request) -> web.Response:
        calls()["things"] += 1
        body = await request.json()
        return web.json_response(
            {"n": calls()["things"], "got": body, "id": uuid.uuid4().hex}, status=201
        )

    async def slow(request: web.Request) -> web.Response:
        harness = harness_ref[0]
        harness.calls["slow"] += 1
        n = harness.calls["slow"]
        if n == 1:
            harness.entered.set()
            await harness.gate.wait()
        return web.json_response({"n": n}, status=201)

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        calls()[f"status-{code}"] += 1
        return web.json_response({"status": code}, status=code)

    async def invalid(request: web.Request) -> web.Response:
        calls()["invalid"] += 1
        raise errors.InvalidInput("amount too small", code="amount_too_small")

    async def crash(request: web.Request) -> web.Response:
        calls()["crash"] += 1
        raise RuntimeError("boom")

    async def text(request: web.Request) -> web.Response:
        calls()["text"] += 1
        return web.Response(text="plain")

    async def outside(request: web.Request) -> web.Response:
        calls()["outside"] += 1
        return web.json_response({"n": calls()["outside"]})

    app.router.add_post("/api/things", things)
    app.router.add_get("/api/things", things)
    app.router.add_post("/api/other", things)
    app.router.add_post("/api/slow", slow)
    app.router.add_post("/api/status/{code}", status)
    app.router.add_post("/api/invalid", invalid)
    app.router.add_post("/api/crash", crash)
    app.router.add_post("/api/text", text)
    app.router.add_post("/outside", outside)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        api_keys=[TEST_API_KEY, SECOND_API_KEY],
        order_token_secret=ORDER_SECRET,
        allow_anonymous_create=True,
    )


@pytest.fixture
def make_harness(aiohttp_client: AiohttpClient, settings: Settings) -> MakeHarness:
    async def make(**idempotency_settings: Any) -> Harness:
        app = create_app(settings.model_copy(update=idempotency_settings))
        ref: list[Harness] = []
        _routes(app, ref)
        harness = Harness(client=await aiohttp_client(app))
        ref.append(harness)
        return harness

    return make


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    return await make_harness()


def _key() -> str:
    return f"key-{uuid.uuid4()}"


async def _post(
    client: Client,
    path: str,
    key: str | None,
    body: object | str = None,
    headers: dict[str, str] | None = None,
) -> ClientResponse:
    """As the API-key caller unless `headers` says who is calling."""
    all_headers = {"Content-Type": "application/json", **(API if headers is None else headers)}
    if key is not None:
        all_headers["Idempotency-Key"] = key
    data = body if isinstance(body, str) else json.dumps(body if body is not None else {})
    return await client.post(path, data=data, headers=all_headers)


async def _error_code(response: ClientResponse) -> str:
    code: str = (await response.json())["error"]["code"]
    return code


async def test_replay_returns_the_stored_answer(harness: Harness) -> None:
    key = _key()
    first = await _post(harness.client, "/api/things", key, {"amount": 500})
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    first_body = await first.json()

    again = await _post(
        harness.client, "/api/things", key, {"amount": 500}, {**API, "X-Request-ID": "retry-1"}
    )
    assert again.status == 201
    assert await again.json() == first_body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["X-Request-ID"] == "retry-1"
    assert again.content_type == "application/json"
    assert harness.calls["things"] == 1


async def test_json_whitespace_and_key_order_do_not_matter(harness: Harness) -> None:
    key = _key()
    first = await _post(harness.client, "/api/things", key, '{"a": 1, "b": {"y": [1, 2], "x": 2}}')
    again = await _post(
        harness.client, "/api/things", key, '{\n  "b": {"x":2,"y":[1,2]},\n  "a":1\n}\n'
    )
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert harness.calls["things"] == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/things", {"amount": 501}),  # other body
        ("/api/things?expand=all", {"amount": 500}),  # other query
        ("/api/other", {"amount": 500}),  # other path
    ],
)
async def test_same_key_other_request_is_422(harness: Harness, path: str, body: object) -> None:
    key = _key()
    assert (await _post(harness.client, "/api/things", key, {"amount": 500})).status == 201
    reused = await _post(harness.client, path, key, body)
    assert reused.status == 422
    error = (await reused.json())["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "different parameters" in error["message"]
    assert reused.headers["X-Request-ID"]
    assert harness.calls["things"] == 1


async def test_keys_are_scoped_per_credential(harness: Harness) -> None:
    key = _key()
    exp = int(time.time()) + 300
    callers = [
        API,
        {"Authorization": f"Bearer {SECOND_API_KEY}"},
        {"X-Order-Token": issue_order_token(ORDER_SECRET.encode(), "o-1", 500, "usd", exp)},
        {
            "X-Order-Token": issue_order_token(
                ORDER_SECRET.encode(), "o-1", 500, "usd", exp, customer="c-1"
            )
        },
    ]
    firsts = []
    for headers in callers:
        response = await _post(harness.client, "/api/things", key, {"x": 1}, headers)
        assert response.status == 201
        assert "Idempotent-Replayed" not in response.headers
        firsts.append(await response.json())
    assert harness.calls["things"] == len(callers)

    # Each caller replays its own answer, not another's.
    for headers, first in zip(callers, firsts, strict=True):
        again = await _post(harness.client, "/api/things", key, {"x": 1}, headers)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert await again.json() == first
    assert harness.calls["things"] == len(callers)


async def test_no_secret_is_stored(harness: Harness) -> None:
    key = _key()
    await _post(harness.client, "/api/things", key, {})
    pool = harness.client.app[DB_POOL]
    principal = await pool.fetchval("SELECT principal FROM idempotency_keys WHERE key = $1", key)
    assert principal == "apikey:" + hashlib.sha256(TEST_API_KEY.encode()).hexdigest()[:32]
    assert TEST_API_KEY not in principal


async def test_in_flight_is_409_then_replayed(harness: Harness) -> None:
    key = _key()
    first = asyncio.create_task(_post(harness.client, "/api/slow", key, {"a": 1}))
    await asyncio.wait_for(harness.entered.wait(), 5)

    busy = await _post(harness.client, "/api/slow", key, {"a": 1})
    assert busy.status == 409
    assert await _error_code(busy) == "idempotency_request_in_progress"
    assert busy.headers["Retry-After"] == "1"

    harness.gate.set()
    done = await asyncio.wait_for(first, 5)
    assert done.status == 201
    replay = await _post(harness.client, "/api/slow", key, {"a": 1})
    assert replay.status == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == await done.json() == {"n": 1}
    assert harness.calls["slow"] == 1


async def test_simultaneous_identical_requests_run_once(harness: Harness) -> None:
    key = _key()
    tasks = [
        asyncio.create_task(_post(harness.client, "/api/slow", key, {"a": 1})) for _ in range(10)
    ]
    await asyncio.wait_for(harness.entered.wait(), 5)
    # Nine answer while the handler is still blocked; they cannot have run it.
    async with asyncio.timeout(5):
        finished = asyncio.as_completed(tasks)
        losers = [await next(finished) for _ in range(9)]
    assert [response.status for response in losers] == [409] * 9
    assert harness.calls["slow"] == 1

    harness.gate.set()
    (winner,) = [task for task in tasks if not task.done()]
    assert (await asyncio.wait_for(winner, 5)).status == 201
    assert harness.calls["slow"] == 1


async def test_stale_in_flight_key_is_taken_over(make_harness: MakeHarness) -> None:
    harness = await make_harness(idempotency_lease_seconds=0.3)
    key = _key()
    # The first request hangs past its lease, as a crashed or wedged process would.
    stuck = asyncio.create_task(_post(harness.client, "/api/slow", key, {"a": 1}))
    await asyncio.wait_for(harness.entered.wait(), 5)
    assert (await _post(harness.client, "/api/slow", key, {"a": 1})).status == 409

    await asyncio.sleep(0.4)
    taken = await _post(harness.client, "/api/slow", key, {"a": 1})
    assert taken.status == 201
    assert "Idempotent-Replayed" not in taken.headers
    assert await taken.json() == {"n": 2}

    # The old request finishes late: its answer reaches its caller but is not stored.
    harness.gate.set()
    assert await (await asyncio.wait_for(stuck, 5)).json() == {"n": 1}
    replay = await _post(harness.client, "/api/slow", key, {"a": 1})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == {"n": 2}
    assert harness.calls["slow"] == 2


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403, 409, 429])
async def test_retryable_answers_are_not_stored(harness: Harness, status: int) -> None:
    key = _key()
    for attempt in (1, 2):
        response = await _post(harness.client, f"/api/status/{status}", key)
        assert response.status == status
        assert "Idempotent-Replayed" not in response.headers
        assert harness.calls[f"status-{status}"] == attempt


@pytest.mark.parametrize("status", [200, 202, 400, 402, 404, 422])
async def test_final_answers_are_stored(harness: Harness, status: int) -> None:
    key = _key()
    first = await _post(harness.client, f"/api/status/{status}", key)
    again = await _post(harness.client, f"/api/status/{status}", key)
    assert first.status == again.status == status
    assert again.headers["Idempotent-Replayed"] == "true"
    assert harness.calls[f"status-{status}"] == 1


async def test_raised_domain_error_is_stored_and_crash_is_not(harness: Harness) -> None:
    key = _key()
    first = await _post(harness.client, "/api/invalid", key)
    again = await _post(harness.client, "/api/invalid", key)
    assert first.status == again.status == 422
    assert await again.json() == await first.json()
    assert await _error_code(again) == "amount_too_small"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert harness.calls["invalid"] == 1

    key = _key()
    for attempt in (1, 2):
        crashed = await _post(harness.client, "/api/crash", key)
        assert crashed.status == 500
        assert await _error_code(crashed) == "internal_error"
        assert harness.calls["crash"] == attempt


async def test_non_json_answer_passes_through_unstored(harness: Harness) -> None:
    key = _key()
    rows = await harness.count_rows()
    for attempt in (1, 2):
        response = await _post(harness.client, "/api/text", key)
        assert (response.status, await response.text()) == (200, "plain")
        assert harness.calls["text"] == attempt
    assert await harness.count_rows() == rows


async def test_expired_key_is_new_again(make_harness: MakeHarness) -> None:
    harness = await make_harness(idempotency_ttl_seconds=0.2)
    key = _key()
    assert (await _post(harness.client, "/api/things", key, {"a": 1})).status == 201
    # After expiry the old row counts for nothing: not replayed, nor "reused" (422).
    for body in ({"a": 1}, {"a": 2}):
        await asyncio.sleep(0.3)
        response = await _post(harness.client, "/api/things", key, body)
        assert response.status == 201
        assert "Idempotent-Replayed" not in response.headers
    assert harness.calls["things"] == 3


async def test_expired_rows_are_cleaned_up_opportunistically(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    pool = harness.client.app[DB_POOL]
    principal = uuid.uuid4().hex
    for i in range(3):
        await repo.claim(
            pool,
            principal=principal,
            key=f"old-{i}",
            method="POST",
            path="/api/things",
            request_hash="h",
            ttl_seconds=0.0,
            lease_seconds=60.0,
        )
    await _post(harness.client, "/api/things", _key(), {})
    left = await pool.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE principal = $1", principal
    )
    assert left == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
async def test_invalid_key_is_400(harness: Harness, key: str) -> None:
    rows = await harness.count_rows()
    response = await _post(harness.client, "/api/things", key, {})
    assert response.status == 400
    assert await _error_code(response) == "invalid_idempotency_key"
    assert harness.calls["things"] == 0
    assert await harness.count_rows() == rows


async def test_longest_and_odd_printable_keys_are_fine(harness: Harness) -> None:
    for key in ("x" * 255, "a b!~{}\"'", "1"):
        response = await _post(harness.client, "/api/things", key, {})
        assert response.status == 201


async def test_requests_without_the_header_never_touch_the_table(harness: Harness) -> None:
    rows = await harness.count_rows()
    for attempt in (1, 2):
        response = await _post(harness.client, "/api/things", None, {"a": 1})
        assert response.status == 201
        assert (await response.json())["n"] == attempt
    assert await harness.count_rows() == rows


async def test_only_post_under_api_is_covered(harness: Harness) -> None:
    rows = await harness.count_rows()
    key = _key()
    for attempt in (1, 2):
        outside = await _post(harness.client, "/outside", key, {})
        assert (await outside.json())["n"] == attempt
        get = await harness.client.get("/api/things", headers={"Idempotency-Key": key})
        assert "Idempotent-Replayed" not in get.headers
    assert await harness.count_rows() == rows


async def test_untouched_requests_need_no_database(aiohttp_client: AiohttpClient) -> None:
    # No pool at all: any database access would be a 500.
    app = web.Application(middlewares=[error_middleware, idempotency_middleware()])
    ref: list[Harness] = []
    _routes(app, ref)
    harness = Harness(client=await aiohttp_client(app))
    ref.append(harness)
    assert (await _post(harness.client, "/api/things", None, {})).status == 201
    assert (await _post(harness.client, "/outside", _key(), {})).status == 200
    assert (await _post(harness.client, "/api/things", "", {})).status == 400


def test_fingerprint() -> None:
    base = fingerprint("POST", "/api/x", b'{"a":1,"b":2}')
    assert fingerprint("POST", "/api/x", b' {"b": 2,\n "a": 1} ') == base
    assert fingerprint("POST", "/api/x", b'{"a":1,"b":3}') != base
    assert fingerprint("POST", "/api/x?q=1", b'{"a":1,"b":2}') != base
    assert fingerprint("PUT", "/api/x", b'{"a":1,"b":2}') != base
    # Non-JSON bodies count byte for byte.
    assert fingerprint("POST", "/api/x", b"a=1&b=2") != fingerprint("POST", "/api/x", b"b=2&a=1")
    assert fingerprint("POST", "/api/x", b"\xff\xfe") == fingerprint("POST", "/api/x", b"\xff\xfe")
    # Parts are delimited: moving bytes between path and body changes the hash.
    assert fingerprint("POST", "/api/x1", b"") != fingerprint("POST", "/api/x", b"1")


async def test_oversized_body_is_413_and_claims_nothing(harness: Harness) -> None:
    rows = await harness.count_rows()
    response = await _post(harness.client, "/api/things", _key(), "x" * (65 * 1024))
    assert response.status == 413
    assert await _error_code(response) == "payload_too_large"
    assert await harness.count_rows() == rows


def test_create_app_puts_idempotency_innermost(settings: Settings) -> None:
    names = [getattr(m, "__name__", None) for m in create_app(settings).middlewares]
    assert names.count("idempotency") == 1
    assert names[-1] == "idempotency"
