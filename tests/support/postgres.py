"""The test session's PostgreSQL: a throwaway embedded cluster, or TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import tempfile
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.config import PROJECT_ROOT
from service.db.embedded import EmbeddedPostgres
from service.db.migrations import migrate

T = TypeVar("T")
TEMPLATE = "paylive_template"


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync fixture code without touching the test's event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class TestPostgres:
    """Creates databases on one server: migrated copies of a template, or empty ones."""

    __test__ = False

    def __init__(self, admin_url: str, cluster: EmbeddedPostgres | None = None) -> None:
        self.admin_url = admin_url
        self.cluster = cluster
        self._template_ready = False

    @classmethod
    def start(
        cls, external_url: str | None, *, durable: bool = False, max_connections: int = 200
    ) -> TestPostgres:
        """`external_url`'s server, else a throwaway cluster: fsync off unless `durable`."""
        if external_url:
            return cls(external_url)
        folder = Path(tempfile.mkdtemp(prefix="paylive-test-pg-"))
        cluster = EmbeddedPostgres(folder, durable=durable, max_connections=max_connections)
        return cls(cluster.start(), cluster)

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.destroy()

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def _ensure_template(self) -> None:
        if self._template_ready:
            return

        async def build() -> None:
            await self._admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
            await self._admin(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
            conn = await asyncpg.connect(with_database(self.admin_url, TEMPLATE))
            try:
                await migrate(conn, PROJECT_ROOT / "sql")
            finally:
                await conn.close()

        run_sync(build())
        self._template_ready = True

    def create_database(self, label: str, *, migrated: bool = True) -> str:
        """A fresh database (migrated from the template, or empty); returns its URL."""
        safe = re.sub(r"[^a-z0-9_]", "_", label.lower())[-40:]
        name = f"t_{safe}_{uuid.uuid4().hex[:8]}"
        if migrated:
            self._ensure_template()
        source = TEMPLATE if migrated else "template0"
        run_sync(self._admin(f"CREATE DATABASE {name} TEMPLATE {source}"))
        return with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        run_sync(self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
