from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from service.config import PROJECT_ROOT
from service.db.migrations import MigrationError, load_migrations, migrate

SQL = PROJECT_ROOT / "sql"


@pytest.fixture
async def conn(empty_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(empty_database_url)
    yield connection
    await connection.close()


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def test_applies_to_empty_database_then_changes_nothing(conn: asyncpg.Connection) -> None:
    first = await migrate(conn, SQL)
    assert first == [m.name for m in load_migrations(SQL)]
    assert {
        "customers",
        "payments",
        "payment_attempts",
        "payment_events",
        "stripe_events",
        "refunds",
        "idempotency_keys",
        "service_state",
        "schema_migrations",
    } <= await _tables(conn)
    recorded = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert [r["checksum"] for r in recorded] == [m.checksum for m in load_migrations(SQL)]
    assert await migrate(conn, SQL) == []


async def test_concurrent_runs_end_in_one_schema(empty_database_url: str) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, SQL) for c in conns))
        applied = [names for names in results if names]
        assert len(applied) == 1, results
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(load_migrations(SQL))
    finally:
        for c in conns:
            await c.close()


async def test_edited_applied_migration_is_refused(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    folder = tmp_path / "sql"
    shutil.copytree(SQL, folder)
    await migrate(conn, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="has changed"):
        await migrate(conn, folder)


async def test_new_file_applied_in_order_each_in_own_transaction(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "001_a.sql").write_text("CREATE TABLE a (x int);")
    (folder / "002_b.sql").write_text("CREATE TABLE b (x int); SELECT 1/0;")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(conn, folder)
    # 001 committed, 002 rolled back whole.
    assert await _tables(conn) == {"a", "schema_migrations"}
    (folder / "002_b.sql").write_text("CREATE TABLE b (x int);")
    assert await migrate(conn, folder) == ["002_b.sql"]


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_lower_snake"):
        load_migrations(tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)
