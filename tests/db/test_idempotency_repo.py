"""The idempotency key store against a real PostgreSQL: claims, fencing, expiry, cleanup."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from service.db import idempotency_repo as repo
from service.db.pool import Pool, create_pool

DAY = 24 * 3600.0


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture
def principal() -> str:
    # The module shares one database: a principal per test keeps tests apart.
    return uuid.uuid4().hex


async def _claim(
    pool: Pool,
    principal: str,
    key: str = "k1",
    request_hash: str = "h1",
    *,
    ttl: float = DAY,
    lease: float = 60.0,
) -> repo.Claimed | repo.Existing:
    return await repo.claim(
        pool,
        principal=principal,
        key=key,
        method="POST",
        path="/api/things",
        request_hash=request_hash,
        ttl_seconds=ttl,
        lease_seconds=lease,
    )


async def test_claim_complete_then_existing(pool: Pool, principal: str) -> None:
    first = await _claim(pool, principal)
    assert isinstance(first, repo.Claimed)

    running = await _claim(pool, principal)
    assert isinstance(running, repo.Existing)
    assert not running.completed
    assert running.response_status is None
    assert running.request_hash == "h1"

    body = {"id": "pi_1", "nested": {"list": [1, 2.5, None, True]}, "text": "café ✓"}
    assert await repo.complete(
        pool, principal=principal, key="k1", token=first.token, status=201, body=body
    )
    done = await _claim(pool, principal)
    assert isinstance(done, repo.Existing)
    assert done.completed
    assert (done.response_status, done.response_body) == (201, body)
    assert (done.method, done.path) == ("POST", "/api/things")

    # Completing twice is refused: the stored answer never changes.
    assert not await repo.complete(
        pool, principal=principal, key="k1", token=first.token, status=500, body={}
    )


async def test_other_fingerprint_sees_the_existing_row(pool: Pool, principal: str) -> None:
    assert isinstance(await _claim(pool, principal, request_hash="h1"), repo.Claimed)
    other = await _claim(pool, principal, request_hash="h2")
    assert isinstance(other, repo.Existing)
    assert other.request_hash == "h1"


async def test_keys_are_per_principal(pool: Pool, principal: str) -> None:
    assert isinstance(await _claim(pool, principal), repo.Claimed)
    assert isinstance(await _claim(pool, principal + "-other"), repo.Claimed)


async def test_release_frees_the_key(pool: Pool, principal: str) -> None:
    first = await _claim(pool, principal)
    assert isinstance(first, repo.Claimed)
    assert await repo.release(pool, principal=principal, key="k1", token=first.token)
    assert isinstance(await _claim(pool, principal, request_hash="h2"), repo.Claimed)


async def test_release_never_deletes_a_completed_answer(pool: Pool, principal: str) -> None:
    first = await _claim(pool, principal)
    assert isinstance(first, repo.Claimed)
    await repo.complete(pool, principal=principal, key="k1", token=first.token, status=200, body=1)
    assert not await repo.release(pool, principal=principal, key="k1", token=first.token)
    assert isinstance(await _claim(pool, principal), repo.Existing)


async def test_stale_claim_is_taken_over_and_old_holder_fenced(pool: Pool, principal: str) -> None:
    old = await _claim(pool, principal, lease=0.0)
    assert isinstance(old, repo.Claimed)
    await asyncio.sleep(0.01)
    new = await _claim(pool, principal, lease=0.0)
    assert isinstance(new, repo.Claimed)
    assert new.token > old.token

    # The presumed-dead holder wakes up: it can neither overwrite nor delete the new claim.
    assert not await repo.complete(
        pool, principal=principal, key="k1", token=old.token, status=200, body={"old": True}
    )
    assert not await repo.release(pool, principal=principal, key="k1", token=old.token)
    assert await repo.complete(
        pool, principal=principal, key="k1", token=new.token, status=200, body={"new": True}
    )
    done = await _claim(pool, principal)
    assert isinstance(done, repo.Existing)
    assert done.response_body == {"new": True}


async def test_fresh_claim_is_not_taken_over(pool: Pool, principal: str) -> None:
    assert isinstance(await _claim(pool, principal), repo.Claimed)
    assert isinstance(await _claim(pool, principal, lease=60.0), repo.Existing)


async def test_stale_claim_with_other_fingerprint_is_not_taken_over(
    pool: Pool, principal: str
) -> None:
    assert isinstance(await _claim(pool, principal, request_hash="h1"), repo.Claimed)
    other = await _claim(pool, principal, request_hash="h2", lease=0.0)
    assert isinstance(other, repo.Existing)
    assert other.request_hash == "h1"


async def test_expired_row_is_treated_as_absent(pool: Pool, principal: str) -> None:
    first = await _claim(pool, principal, ttl=0.0)
    assert isinstance(first, repo.Claimed)
    await repo.complete(pool, principal=principal, key="k1", token=first.token, status=200, body=1)
    # Even a different request may use the key once it has expired.
    again = await _claim(pool, principal, request_hash="h2")
    assert isinstance(again, repo.Claimed)
    running = await _claim(pool, principal, request_hash="h2")
    assert isinstance(running, repo.Existing)
    assert not running.completed


async def test_delete_expired_keeps_live_rows(pool: Pool, principal: str) -> None:
    for i in range(3):
        await _claim(pool, principal, f"old-{i}", ttl=0.0)
    live = await _claim(pool, principal, "live")
    assert isinstance(live, repo.Claimed)

    assert await repo.delete_expired(pool, limit=1) == 1
    assert await repo.delete_expired(pool) >= 2
    assert await repo.delete_expired(pool) == 0
    count = await pool.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE principal = $1", principal
    )
    assert count == 1
    assert isinstance(await _claim(pool, principal, "live"), repo.Existing)


async def test_concurrent_claims_have_one_winner(pool: Pool, principal: str) -> None:
    outcomes = await asyncio.gather(*(_claim(pool, principal, "race") for _ in range(20)))
    assert sum(isinstance(o, repo.Claimed) for o in outcomes) == 1
    losers = [o for o in outcomes if isinstance(o, repo.Existing)]
    assert len(losers) == 19
    assert not any(o.completed for o in losers)


async def test_concurrent_takeovers_of_a_stale_claim_have_one_winner(
    pool: Pool, principal: str
) -> None:
    assert isinstance(await _claim(pool, principal, "stale"), repo.Claimed)
    await asyncio.sleep(3.1)
    # The winner's new claim is fresh for 3 s: far longer than the race lasts, even on a
    # loaded machine (with 0.5 s a slow run saw a second, legitimate takeover).
    outcomes = await asyncio.gather(
        *(_claim(pool, principal, "stale", lease=3.0) for _ in range(20))
    )
    assert sum(isinstance(o, repo.Claimed) for o in outcomes) == 1
