"""Command line: ``python -m service serve | migrate | demo | reset-demo | reconcile | deliver``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import asyncpg

from service.config import Settings, SettingsError, load_settings
from service.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, resolve_data_dir
from service.db.migrations import MigrationError, migrate
from service.logs import configure_logging

if TYPE_CHECKING:
    from service.demo import DemoChildren

log = logging.getLogger("service")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8080)")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    commands.add_parser(
        "reconcile", help="one reconciliation round with Stripe now; prints the report (JSON)"
    )
    demo = commands.add_parser("demo", help="the zero-config demo (emulator + service + page)")
    demo.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
    demo.add_argument("--port", type=int, help="port to bind (default: PORT or 8080)")
    demo.add_argument("--emulator-port", type=int, help="default: EMULATOR_PORT or any free")
    demo.add_argument(
        "--clerk-port", type=int, default=0, help="the Clerk stand-in's port (default: any free)"
    )
    deliver = commands.add_parser(
        "deliver", help="deliver merchant notifications (when web processes set it off)"
    )
    deliver.add_argument("--piped", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("reset-demo", help="delete the demo's data folder (embedded PostgreSQL)")
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
    if args.command == "reset-demo":
        return _reset_demo(settings)
    if args.command == "deliver":  # after the web process's migrations, on its database
        from service.notifications.process_main import deliver_command

        return deliver_command(settings, piped=args.piped)
    try:
        with _demo_children(settings, args) as children, database(settings) as settings:
            assert settings.database_url is not None
            # Migrations hold a session advisory lock: a direct connection, not pgbouncer's.
            direct = settings.listen_database_url or settings.database_url
            applied = asyncio.run(run_migrations(direct, settings.migrations_dir))
            log.info("database schema up to date", extra={"applied": applied})
            if args.command == "serve":
                return _serve_command(settings, args)
            if args.command == "demo":
                assert children is not None
                return _demo(settings, args, children)
            if args.command == "reconcile":
                return _reconcile(settings)
    except (EmbeddedPostgresError, MigrationError, RuntimeError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


def _serve_command(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    if settings.stripe_secret_key is None:
        log.error("STRIPE_SECRET_KEY is not set (for the offline demo: python -m service demo)")
        return EXIT_CONFIG
    if args.workers > 1:
        return _run_workers(settings, host, port, args.workers)
    from service.serving import serve  # here, so `migrate` never loads the web stack

    serve(settings, host, port, reuse_port=args.reuse_port)
    return 0


@contextlib.contextmanager
def _demo_children(settings: Settings, args: argparse.Namespace) -> Iterator[DemoChildren | None]:
    """The demo's helper processes start first, so their start-ups overlap the database's."""
    if args.command != "demo":
        yield None
        return
    from service.demo import demo_children

    with demo_children(settings, args.host, args.port, args.emulator_port, args.clerk_port) as c:
        yield c


def _demo(settings: Settings, args: argparse.Namespace, children: DemoChildren) -> int:
    from service.demo import TEST_CARDS, demo_settings, page_url
    from service.demo_clerk import sign_in_settings
    from service.serving import serve

    host = args.host or settings.host
    port = args.port or settings.port
    with demo_settings(settings, host, port, children.emulator) as demo:
        demo = sign_in_settings(demo, children.clerk)
        print(f"\n  paylive demo: {page_url(host, port)}/\n\n{TEST_CARDS}\n", flush=True)
        serve(demo, host, port)
    return 0


def _reset_demo(settings: Settings) -> int:
    from service.demo import reset_demo_data

    done, message = reset_demo_data(resolve_data_dir(settings.embedded_pgdata))
    print(f"paylive: {message}", file=sys.stdout if done else sys.stderr)
    return 0 if done else 1


def _reconcile(settings: Settings) -> int:
    from service.bootstrap import reconcile_cli

    if settings.stripe_secret_key is None:
        log.error("STRIPE_SECRET_KEY is not set")
        return EXIT_CONFIG
    return reconcile_cli(settings)


def _run_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """N processes on one port (SO_REUSEPORT); signals are passed on to every one."""
    assert settings.database_url is not None
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    # Every worker must accept every other worker's status tokens.
    if settings.status_token_secret is None:
        env["STATUS_TOKEN_SECRET"] = secrets.token_hex(32)
    command = [
        sys.executable,
        "-m",
        "service",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--reuse-port",
    ]
    children = [subprocess.Popen(command, env=env) for _ in range(workers)]
    log.info("started %d workers on http://%s:%d/", workers, host, port)

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
