"""All SQL about merchant notifications: the outbox row written with a payment change,
claiming and finishing deliveries, and what operators read and retry.

``record_notification`` runs on the change's own connection, inside its transaction, so
a notification exists exactly when its change committed. Everything else works on the
pool, one short transaction per step, so no lock is held during an HTTP request: a claim
is a lease (``claim_token``, ``lease_until``) that another process may take over once it
has passed, e.g. after a ``kill -9`` mid-request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg

from service.db.pool import Pool
from service.notifications.rules import Notification, notification_for
from service.payments.models import Change, Payment

Status = Literal["pending", "delivered", "failed"]


def api_time_sql(t: str) -> str:
    """SQL writing the timestamptz ``t`` as the API does (pydantic: UTC, "Z", the
    microseconds unless they are zero)."""
    return f"""to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN extract(microseconds FROM {t})::int % 1000000 = 0 THEN ''
            ELSE to_char({t} AT TIME ZONE 'UTC', '.US') END || 'Z'"""


OUTBOX_ARGS = 6  # ``outbox_args``


def outbox_insert(first: int, *, changed: str | None = None) -> str:
    """The outbox rows of one notification, one per configured endpoint, with the
    customer's external id filled in; its parameters, from ``$first``, are
    ``outbox_args``. Alone (``record_notification``) or inside a change's own statement,
    whose ``changed`` row it then follows: nothing written if the change wrote nothing,
    and ``updated_at`` as the database stamped it (the data was built before)."""
    a, b, c, d, e, f = (f"${n}" for n in range(first, first + OUTBOX_ARGS))
    # One merge into the data (a jsonb_set per key would rewrite it once per key).
    filled = f"'customer', (SELECT external_id FROM customers WHERE id = {f})"  # noqa: S608
    source = "merchant_endpoints e"
    if changed is not None:
        filled += f", 'updated_at', {api_time_sql(f'{changed}.updated_at')}"
        source = f"{changed}, merchant_endpoints e"
    return f"""INSERT INTO notifications (webhook_id, endpoint_id, payment_id, version, type, data)
           SELECT {a}, e.id, {b}, {c}, {d}, {e}::jsonb || jsonb_build_object({filled})
           FROM {source} WHERE e.configured"""  # noqa: S608 - constant SQL pieces only


def outbox_args(note: Notification) -> tuple[object, ...]:
    """A fresh Standard Webhooks message id, kept on every retry, and the notification."""
    return (
        f"msg_{uuid4().hex}",
        note.payment_id,
        note.version,
        note.type,
        note.data,
        note.customer_id,
    )


_RECORD_NOTIFICATION = outbox_insert(1)


async def record_notification(
    conn: asyncpg.Connection, before: Payment | None, after: Payment, change: Change
) -> bool:
    """The outbox: one row per configured endpoint when this change notifies the merchant.
    Call it in the change's transaction; no round trip when nothing is to be said.
    Whether a notification was written."""
    note = notification_for(before, after, change)
    if note is None:
        return False
    await conn.execute(_RECORD_NOTIFICATION, *outbox_args(note))
    return True


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    disabled_at: datetime | None


@dataclass(frozen=True)
class Claimed:
    """One delivery this process holds the lease of."""

    id: int
    webhook_id: str
    endpoint_id: int
    payment_id: UUID
    version: int
    type: str
    data: dict[str, Any]
    created_at: datetime
    attempts: int  # this one included
    claim_token: UUID


@dataclass(frozen=True)
class AttemptRecord:
    attempted_at: datetime
    http_status: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class Finish:
    """A delivery's answer, to be recorded: the notification's next state and the attempt."""

    claimed: Claimed
    status: Status
    retry_in: float  # seconds until the next attempt, for "pending"
    attempt: AttemptRecord


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    webhook_id: str
    endpoint_url: str
    endpoint_disabled: bool
    payment_id: UUID
    version: int
    type: str
    status: Status
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptRecord]


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_pending_at: datetime | None


_RECORD = """SELECT n.id, n.webhook_id, e.url AS endpoint_url,
                    e.disabled_at IS NOT NULL AS endpoint_disabled, n.payment_id, n.version,
                    n.type, n.status, n.next_attempt_at, n.last_error, n.created_at,
                    n.finished_at,
                    array(SELECT json_build_object(
                              'attempted_at', a.attempted_at, 'http_status', a.http_status,
                              'error', a.error, 'duration_ms', a.duration_ms)
                          FROM notification_attempts a WHERE a.notification_id = n.id
                          ORDER BY a.id) AS attempts
             FROM notifications n JOIN merchant_endpoints e ON e.id = n.endpoint_id"""


def _record(row: asyncpg.Record) -> NotificationRecord:
    fields = dict(row)
    fields["attempts"] = [
        AttemptRecord(
            attempted_at=datetime.fromisoformat(a["attempted_at"]),
            http_status=a["http_status"],
            error=a["error"],
            duration_ms=a["duration_ms"],
        )
        for a in row["attempts"]
    ]
    return NotificationRecord(**fields)


class NotificationsStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def sync_endpoints(self, urls: list[str]) -> list[Endpoint]:
        """Make the configured URLs the endpoints that get new notifications."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE merchant_endpoints SET configured = (url = ANY($1::text[]))", urls
            )
            rows = await conn.fetch(
                """INSERT INTO merchant_endpoints (url) SELECT unnest($1::text[])
                   ON CONFLICT (url) DO UPDATE SET configured = true
                   RETURNING id, url, disabled_at""",
                urls,
            )
        return [Endpoint(**dict(row)) for row in rows]

    async def claim(self, endpoint_id: int, limit: int, lease_seconds: float) -> list[Claimed]:
        """Up to ``limit`` due deliveries for an enabled endpoint, each the lowest pending
        version of its payment there (a later version waits for the earlier one)."""
        token = uuid4()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """WITH window_ AS (
                       -- the oldest due rows first, so the per-row checks below stay
                       -- bounded however long the backlog is
                       SELECT id FROM notifications
                       WHERE endpoint_id = $1 AND status = 'pending'
                         AND next_attempt_at <= now()
                         AND (lease_until IS NULL OR lease_until < now())
                       ORDER BY next_attempt_at, id LIMIT $2 * 4 + 64),
                   ready AS (
                       SELECT n.id FROM window_ w
                       JOIN notifications n ON n.id = w.id
                       JOIN merchant_endpoints e ON e.id = n.endpoint_id
                       WHERE e.disabled_at IS NULL AND n.status = 'pending'
                         AND (n.lease_until IS NULL OR n.lease_until < now())
                         -- a subplan: one index probe per candidate
                         AND n.version = (
                             SELECT min(o.version) FROM notifications o
                             WHERE o.endpoint_id = n.endpoint_id
                               AND o.payment_id = n.payment_id AND o.status = 'pending')
                       ORDER BY n.next_attempt_at, n.id LIMIT $2
                       FOR UPDATE OF n SKIP LOCKED)
                   UPDATE notifications n
                   SET claim_token = $3, lease_until = now() + $4 * interval '1 second',
                       attempts = n.attempts + 1
                   FROM ready WHERE n.id = ready.id
                   RETURNING n.id, n.webhook_id, n.endpoint_id, n.payment_id, n.version,
                             n.type, n.data, n.created_at, n.attempts, n.claim_token""",
                endpoint_id,
                limit,
                token,
                lease_seconds,
            )
        return sorted((Claimed(**dict(row)) for row in rows), key=lambda c: c.id)

    async def finish(self, outcomes: Sequence[Finish]) -> set[int]:
        """Record each attempt and its notification's new state, all in one statement;
        the ids whose lease held (the others another process owns now: their attempt is
        logged, their state left to it)."""
        if not outcomes:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """WITH f AS (
                       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[],
                                            $5::timestamptz[], $6::int[], $7::float8[],
                                            $8::float8[])
                           AS f(id, token, status, error, attempted_at, http_status,
                                duration_ms, retry_in)),
                   logged AS (
                       INSERT INTO notification_attempts
                           (notification_id, attempted_at, http_status, error, duration_ms)
                       SELECT id, attempted_at, http_status, error, duration_ms FROM f)
                   UPDATE notifications n
                   SET status = f.status,
                       next_attempt_at = now() + f.retry_in * interval '1 second',
                       claim_token = NULL, lease_until = NULL, last_error = f.error,
                       finished_at = CASE WHEN f.status = 'pending' THEN NULL ELSE now() END
                   FROM f WHERE n.id = f.id AND n.claim_token = f.token RETURNING n.id""",
                [o.claimed.id for o in outcomes],
                [o.claimed.claim_token for o in outcomes],
                [o.status for o in outcomes],
                [o.attempt.error for o in outcomes],
                [o.attempt.attempted_at for o in outcomes],
                [o.attempt.http_status for o in outcomes],
                [o.attempt.duration_ms for o in outcomes],
                [o.retry_in for o in outcomes],
            )
        return {row["id"] for row in rows}

    async def disable_endpoint(self, claimed: Claimed, reason: str) -> None:
        """410 Gone: stop sending there; the notification stays pending (and first in line)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE merchant_endpoints SET disabled_at = now(), disabled_reason = $2
                   WHERE id = $1""",
                claimed.endpoint_id,
                reason,
            )

    async def retry(self, notification_id: int) -> NotificationRecord | None:
        """Send again now, from a fresh schedule; re-enables its endpoint if a 410 had
        disabled it (an operator asking is the signal the merchant is back)."""
        async with self.pool.acquire() as conn, conn.transaction():
            endpoint_id = await conn.fetchval(
                """UPDATE notifications SET status = 'pending', attempts = 0,
                          next_attempt_at = now(), finished_at = NULL
                   WHERE id = $1 RETURNING endpoint_id""",
                notification_id,
            )
            if endpoint_id is None:
                return None
            await conn.execute(
                """UPDATE merchant_endpoints SET disabled_at = NULL, disabled_reason = NULL
                   WHERE id = $1""",
                endpoint_id,
            )
            row = await conn.fetchrow(f"{_RECORD} WHERE n.id = $1", notification_id)
        assert row is not None
        return _record(row)

    async def list(
        self, payment_id: UUID | None, status: Status | None, limit: int
    ) -> list[NotificationRecord]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""{_RECORD}
                    WHERE ($1::uuid IS NULL OR n.payment_id = $1)
                      AND ($2::text IS NULL OR n.status = $2)
                    ORDER BY n.id DESC LIMIT $3""",
                payment_id,
                status,
                limit,
            )
        return [_record(row) for row in rows]

    async def backlog(self) -> Backlog:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT count(*) AS pending, min(created_at) AS oldest_pending_at
                   FROM notifications WHERE status = 'pending'"""
            )
        assert row is not None
        return Backlog(**dict(row))
