"""The ``idempotency_keys`` table: claim a key, then complete or release the claim.

A claim is fenced by the row's ``created_at``: if a stale claim is taken over, the old
holder's late ``complete``/``release`` matches no row and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.db.pool import Pool

log = logging.getLogger(__name__)

# Insert the key, or take over a row that is expired (treated as absent) or whose
# same-fingerprint request has been in flight longer than the lease (its process died).
# In READ COMMITTED the WHERE is re-checked on the newest row version under its lock,
# so of two racing claims only one gets a row back.
_CLAIM = """
INSERT INTO idempotency_keys AS k (principal, key, method, path, request_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
ON CONFLICT (principal, key) DO UPDATE SET
    method = EXCLUDED.method,
    path = EXCLUDED.path,
    request_hash = EXCLUDED.request_hash,
    response_status = NULL,
    response_body = NULL,
    created_at = EXCLUDED.created_at,
    completed_at = NULL,
    expires_at = EXCLUDED.expires_at
WHERE k.expires_at <= now()
   OR (k.completed_at IS NULL
       AND k.request_hash = EXCLUDED.request_hash
       AND k.created_at <= now() - make_interval(secs => $7))
RETURNING created_at
"""

_GET_LIVE = """
SELECT method, path, request_hash, response_status, response_body, created_at, completed_at
FROM idempotency_keys
WHERE principal = $1 AND key = $2 AND expires_at > now()
"""

_COMPLETE = """
UPDATE idempotency_keys
SET response_status = $4, response_body = $5, completed_at = now()
WHERE principal = $1 AND key = $2 AND created_at = $3 AND completed_at IS NULL
"""

_RELEASE = """
DELETE FROM idempotency_keys
WHERE principal = $1 AND key = $2 AND created_at = $3 AND completed_at IS NULL
"""

# Batched and SKIP LOCKED so it never waits on, or long blocks, live requests.
_DELETE_EXPIRED = """
WITH doomed AS (
    SELECT principal, key FROM idempotency_keys
    WHERE expires_at <= now()
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
DELETE FROM idempotency_keys k USING doomed d
WHERE k.principal = d.principal AND k.key = d.key
"""

# Between the claim and the read the row can be released or expire; then claim again.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request owns the key; ``token`` fences its ``complete``/``release``."""

    token: datetime


@dataclass(frozen=True, slots=True)
class Existing:
    """Another request holds the key (still running, or finished with a stored answer)."""

    method: str
    path: str
    request_hash: str
    response_status: int | None
    response_body: Any
    created_at: datetime
    completed_at: datetime | None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


class ClaimContended(Exception):
    """The key kept changing hands between our statements; the caller should retry."""


async def claim(
    pool: Pool,
    *,
    principal: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    ttl_seconds: float,
    lease_seconds: float,
) -> Claimed | Existing:
    """Take the key for this request, or return the live row that holds it."""
    for _ in range(_CLAIM_ATTEMPTS):
        token = await pool.fetchval(
            _CLAIM,
            principal,
            key,
            method,
            path,
            request_hash,
            float(ttl_seconds),
            float(lease_seconds),
        )
        if token is not None:
            return Claimed(token=token)
        row = await pool.fetchrow(_GET_LIVE, principal, key)
        if row is not None:
            return Existing(
                method=row["method"],
                path=row["path"],
                request_hash=row["request_hash"],
                response_status=row["response_status"],
                response_body=row["response_body"],
                created_at=row["created_at"],
                completed_at=row["completed_at"],
            )
    raise ClaimContended(key)


async def complete(
    pool: Pool, *, principal: str, key: str, token: datetime, status: int, body: Any
) -> bool:
    """Store the answer; False if the claim was lost (taken over or expired meanwhile)."""
    result: str = await pool.execute(_COMPLETE, principal, key, token, status, body)
    return result == "UPDATE 1"


async def release(pool: Pool, *, principal: str, key: str, token: datetime) -> bool:
    """Forget an unfinished claim so the same key can be retried."""
    result: str = await pool.execute(_RELEASE, principal, key, token)
    return result == "DELETE 1"


async def delete_expired(pool: Pool, *, limit: int = 1000) -> int:
    """Delete up to ``limit`` expired rows; returns how many went."""
    result: str = await pool.execute(_DELETE_EXPIRED, limit)
    return int(result.rsplit(" ", 1)[1])
