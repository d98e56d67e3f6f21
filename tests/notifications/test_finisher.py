"""Delivery answers recorded together: the Finisher's batching, and the statement it uses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from service.db.notifications_repo import AttemptRecord, Claimed, Finish, NotificationsStore
from service.db.pool import Pool
from service.db.store import PgStore
from service.notifications.finisher import MAX_BATCH, Finisher
from tests.support.payments import add_payment


def _outcome(n: int, status: str = "delivered") -> Finish:
    claimed = Claimed(
        id=n,
        webhook_id=f"msg_{n}",
        endpoint_id=1,
        payment_id=uuid.uuid4(),
        version=1,
        type="payment.created",
        data={},
        created_at=datetime.now(UTC),
        attempts=1,
        claim_token=uuid.uuid4(),
    )
    attempt = AttemptRecord(datetime.now(UTC), 200, None, 1.0)
    return Finish(claimed, status, 0.0, attempt)  # type: ignore[arg-type]


class GatedWrite:
    """A database that answers each write when the test opens its gate."""

    def __init__(self, lost: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.fail_next: Exception | None = None
        self.lost = lost

    async def __call__(self, outcomes: Sequence[Finish]) -> set[int]:
        self.batches.append([o.claimed.id for o in outcomes])
        await self.gate.wait()
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        return {o.claimed.id for o in outcomes} - self.lost


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_answers_arriving_during_a_write_go_together_in_the_next() -> None:
    write = GatedWrite(lost=frozenset({3}))
    finisher = Finisher(write)
    first = asyncio.create_task(finisher.finish(_outcome(1)))
    await _settle()
    assert write.batches == [[1]]  # alone: at once, no timer
    later = [asyncio.create_task(finisher.finish(_outcome(n))) for n in (2, 3, 4)]
    await _settle()
    assert write.batches == [[1]]  # they wait for the write in flight
    write.gate.set()
    assert await first is True
    assert await asyncio.gather(*later) == [True, False, True]  # 3's lease was lost
    assert write.batches == [[1], [2, 3, 4]]


async def test_a_failed_write_raises_in_each_of_its_waiters_and_the_next_still_goes() -> None:
    write = GatedWrite()
    finisher = Finisher(write)
    write.fail_next = OSError("connection reset")
    doomed = [asyncio.create_task(finisher.finish(_outcome(n))) for n in (1, 2)]
    await _settle()
    after = asyncio.create_task(finisher.finish(_outcome(3)))
    await _settle()
    write.gate.set()
    results = await asyncio.gather(*doomed, return_exceptions=True)
    assert [type(r) for r in results] == [OSError, OSError]
    assert await after is True
    assert write.batches == [[1, 2], [3]]


async def test_a_batch_is_bounded() -> None:
    write = GatedWrite()
    finisher = Finisher(write)
    waiters = [asyncio.create_task(finisher.finish(_outcome(n))) for n in range(MAX_BATCH + 2)]
    await _settle()
    write.gate.set()
    assert all(await asyncio.gather(*waiters))
    assert [len(b) for b in write.batches] == [MAX_BATCH, 2]


async def test_drain_waits_for_the_write_and_a_cancelled_writer_leaves_no_waiter_hanging() -> None:
    write = GatedWrite()
    finisher = Finisher(write)
    waiter = asyncio.create_task(finisher.finish(_outcome(1)))
    await _settle()
    drained = asyncio.create_task(finisher.drain())
    await _settle()
    assert not drained.done()
    write.gate.set()
    await drained
    assert await waiter is True

    write.gate.clear()
    stuck = asyncio.create_task(finisher.finish(_outcome(2)))
    queued = asyncio.create_task(finisher.finish(_outcome(3)))
    await _settle()
    assert finisher._writing is not None
    finisher._writing.cancel()
    for task in (stuck, queued):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_statement_records_every_attempt_and_only_held_leases(
    pool: Pool, store: PgStore
) -> None:
    notes = NotificationsStore(pool)
    [endpoint] = await notes.sync_endpoints([f"http://127.0.0.1:9/f/{uuid.uuid4().hex}"])
    for _ in range(3):
        await add_payment(store)
    claims = await notes.claim(endpoint.id, 10, 60.0)
    assert len(claims) == 3
    kept, retried, stolen = claims
    async with pool.acquire() as conn:  # another process took this one over
        await conn.execute(
            "UPDATE notifications SET claim_token = $2 WHERE id = $1", stolen.id, uuid.uuid4()
        )
    at = datetime.now(UTC)
    held = await notes.finish(
        [
            Finish(kept, "delivered", 0.0, AttemptRecord(at, 200, None, 2.5)),
            Finish(retried, "pending", 30.0, AttemptRecord(at, 503, "HTTP 503", 4.0)),
            Finish(stolen, "delivered", 0.0, AttemptRecord(at, 200, None, 1.0)),
        ]
    )
    assert held == {kept.id, retried.id}
    async with pool.acquire() as conn:
        rows = {
            r["id"]: r
            for r in await conn.fetch(
                """SELECT id, status, claim_token, last_error, finished_at IS NOT NULL AS done,
                          next_attempt_at > now() + interval '25 seconds' AS later,
                          (SELECT array_agg(http_status) FROM notification_attempts a
                           WHERE a.notification_id = n.id) AS statuses
                   FROM notifications n WHERE id = ANY($1::bigint[])""",
                [c.id for c in claims],
            )
        }
    assert (rows[kept.id]["status"], rows[kept.id]["done"]) == ("delivered", True)
    assert rows[kept.id]["claim_token"] is None
    assert (rows[retried.id]["status"], rows[retried.id]["later"]) == ("pending", True)
    assert rows[retried.id]["last_error"] == "HTTP 503"
    assert rows[stolen.id]["status"] == "pending"  # left to the process that holds it
    assert rows[stolen.id]["claim_token"] is not None
    assert [rows[c.id]["statuses"] for c in claims] == [[200], [503], [200]]
    assert await notes.finish([]) == set()
