"""The asyncpg pool: JSON codecs on every connection, sizes from settings."""

from __future__ import annotations

import json
from typing import TypeAlias, cast

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """What a released connection needs: nothing beyond what asyncpg always does (roll
    back an open transaction, drop listeners). The default also sends RESET ALL, CLOSE
    ALL, UNLISTEN * and pg_advisory_unlock_all(), one round trip per release, for session
    state this service never sets on pooled connections (LISTEN has its own connection;
    locks are transaction-level; migrations use their own connection)."""


Pool: TypeAlias = asyncpg.Pool


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> Pool:
    """A pool whose connections read and write json/jsonb as Python objects."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_no_session_reset,
        command_timeout=30,
        max_inactive_connection_lifetime=300,
    )
    return cast(Pool, pool)
