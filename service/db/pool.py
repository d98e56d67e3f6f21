"""The asyncpg pool: JSON codecs on every connection, sizes from settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, TypeAlias, cast

import asyncpg

from service.errors import DatabaseUnavailable

# jsonb's binary form is a version byte (1) and the JSON text. Binary rather than text
# codecs, so rows holding jsonb can also be read whole (asyncpg decodes composite values
# only in binary): the push path reads states and their timeline rows in one statement.
_JSONB_VERSION = b"\x01"


def _encode_jsonb(value: object) -> bytes:
    return _JSONB_VERSION + json.dumps(value).encode()


def _decode_jsonb(data: bytes) -> object:
    if data[:1] != _JSONB_VERSION:
        raise ValueError(f"unknown jsonb binary format version {data[:1]!r}")
    return json.loads(data[1:])


def _encode_json(value: object) -> bytes:
    return json.dumps(value).encode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "json", encoder=_encode_json, decoder=json.loads, schema="pg_catalog", format="binary"
    )
    # asyncpg learns a composite type on its first use on each connection (an
    # introspection query, ~8 ms here): learn the timeline rows' now, when the connection
    # opens, rather than in the first pushes. Absent before the first migration.
    with contextlib.suppress(asyncpg.UndefinedTableError):
        await conn.fetchval("SELECT NULL::payment_events[]")


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """What a released connection needs: nothing beyond what asyncpg always does (roll
    back an open transaction, drop listeners). The default also sends RESET ALL, CLOSE
    ALL, UNLISTEN * and pg_advisory_unlock_all(), one round trip per release, for session
    state this service never sets on pooled connections (LISTEN has its own connection;
    locks are transaction-level; migrations use their own connection)."""


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """asyncpg's connect, its socket errors named for what they are. A refused or timed
    out connection to PostgreSQL raises a bare OSError, the same class a client hanging up
    raises, so the error middleware could not tell a database outage from a client gone."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except OSError as exc:  # ConnectionRefusedError, TimeoutError, socket.gaierror, ...
        raise DatabaseUnavailable() from exc


Pool: TypeAlias = asyncpg.Pool


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, statement_cache_size: int = 100
) -> Pool:
    """A pool whose connections read and write json/jsonb as Python objects.

    ``statement_cache_size=0`` behind pgbouncer in transaction mode older than 1.21 (no
    protocol-level prepared statements): asyncpg then prepares unnamed statements only,
    which live within one transaction's server connection."""
    pool = await asyncpg.create_pool(
        dsn,
        connect=_connect,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_no_session_reset,
        command_timeout=30,
        max_inactive_connection_lifetime=300,
        statement_cache_size=statement_cache_size,
    )
    return cast(Pool, pool)


async def close_pool(pool: Pool, timeout: float) -> None:
    """Close gracefully, but never wait past `timeout` for a connection someone still
    holds (a cancelled task's, a stuck query's): then terminate the rest."""
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except TimeoutError:
        pool.terminate()
