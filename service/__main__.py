"""Command line: ``python -m service serve | migrate``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from aiohttp import web

from service.config import Settings, SettingsError, load_settings
from service.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from service.db.migrations import MigrationError, migrate
from service.logs import configure_logging

log = logging.getLogger("service")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8080)")
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    return parser


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a DSN: the configured one, or an embedded cluster stopped on exit."""
    if settings.database_url is not None:
        yield settings
        return
    cluster = EmbeddedPostgres(settings.embedded_pgdata)
    dsn = cluster.start()
    try:
        yield settings.model_copy(update={"database_url": dsn})
    finally:
        cluster.stop()


async def run_migrations(dsn: str, directory: Path) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, directory)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"paylive: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)
    try:
        with database(settings) as settings:
            assert settings.database_url is not None
            applied = asyncio.run(run_migrations(settings.database_url, settings.migrations_dir))
            log.info("database schema up to date", extra={"applied": applied})
            if args.command == "serve":
                _serve(settings, host=args.host, port=args.port)
    except (EmbeddedPostgresError, MigrationError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


def _serve(settings: Settings, *, host: str | None, port: int | None) -> None:
    # Imported here so `migrate` never pays for the web stack.
    from service.app import create_app
    from service.http.request_id import JsonAccessLogger

    host = host or settings.host
    port = port or settings.port
    log.info("serving on http://%s:%d/", host, port)
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        access_log_class=JsonAccessLogger,
        print=None,
    )


if __name__ == "__main__":
    sys.exit(main())
