from __future__ import annotations

import tempfile
from pathlib import Path

import asyncpg

from service.db.embedded import EmbeddedPostgres, find_bindir
from tests.support.postgres import run_sync


async def _query(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_finds_server_binaries() -> None:
    assert (find_bindir() / "initdb").exists()


def test_cluster_persists_across_restarts_and_stops_cleanly() -> None:
    folder = Path(tempfile.mkdtemp(prefix="paylive-embedded-test-"))
    cluster = EmbeddedPostgres(folder, durable=False)
    try:
        dsn = cluster.start()
        run_sync(_query(dsn, "CREATE TABLE kept AS SELECT 42 AS x"))
        cluster.stop()
        assert not (folder / "postmaster.pid").exists()

        second = EmbeddedPostgres(folder, durable=False)
        dsn = second.start()
        assert run_sync(_query(dsn, "SELECT x FROM kept")) == 42
        # A second user of the same folder reuses the running server and leaves it up.
        third = EmbeddedPostgres(folder, durable=False)
        assert third.start() == dsn
        third.stop()
        assert run_sync(_query(dsn, "SELECT 1")) == 1
        second.stop()
        assert not (folder / "postmaster.pid").exists()
    finally:
        cluster.destroy()
        EmbeddedPostgres(folder).destroy()
