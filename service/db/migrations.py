"""Forward-only migrations: ``sql/NNN_name.sql`` applied in order, once each.

Each file runs in its own transaction under a session advisory lock, so two processes
migrating at once serialise and the second finds nothing to do. Applied files are
recorded with a checksum; an applied file that has changed stops the service.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same in every process of this service.
_LOCK_KEY = 0x7061796C697665  # "paylive"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def load_migrations(directory: Path) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        text = path.read_text(encoding="utf-8")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        migrations.append(Migration(int(match.group(1)), path.name, text, checksum))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return migrations


async def migrate(conn: asyncpg.Connection, directory: Path) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        _check_applied(migrations, applied)
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _check_applied(migrations: list[Migration], applied: dict[int, asyncpg.Record]) -> None:
    on_disk = {m.version: m for m in migrations}
    for version, row in sorted(applied.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(f"applied migration {row['name']} is missing from the folder")
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"applied migration {row['name']} has changed since it was applied; "
                "migrations are forward-only: add a new file instead of editing this one"
            )
