"""A local PostgreSQL cluster from the machine's binaries, for `make run` and the tests.

With ``DATABASE_URL`` unset the service starts one in a persistent folder and reuses it
on the next start. PostgreSQL refuses to run as root, so as root the cluster belongs to
the ``postgres`` user and every server binary runs through ``runuser``.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

SUPERUSER = "paylive"


class EmbeddedPostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb/pg_ctl: ``pg_config --bindir`` or the newest Debian one."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0)
    )
    candidates += [Path(p) for p in reversed(versions)]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found (looked at pg_config --bindir and "
        "/usr/lib/postgresql/*/bin); install PostgreSQL (apt-get install postgresql) "
        "or set DATABASE_URL"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reachable_by_others(path: Path) -> bool:
    """True when every parent of ``path`` is searchable by a non-owner (o+x)."""
    resolved = path.resolve()
    return all(p.stat().st_mode & stat.S_IXOTH for p in (resolved, *resolved.parents))


def resolve_data_dir(wanted: Path) -> Path:
    """As root, the postgres user must reach the folder; fall back to /var/tmp if it can't."""
    if os.geteuid() != 0 or _reachable_by_others(wanted.parent):
        return wanted
    digest = hashlib.sha256(str(wanted.resolve()).encode()).hexdigest()[:12]
    fallback = Path("/var/tmp") / f"paylive-pgdata-{digest}"  # noqa: S108 - persistent, root-owned name
    log.info("data folder %s is not reachable by the postgres user; using %s", wanted, fallback)
    return fallback


class EmbeddedPostgres:
    """One cluster: ``start()`` returns a DSN, ``stop()`` stops what this object started."""

    def __init__(self, data_dir: Path, *, durable: bool = True, max_connections: int = 200) -> None:
        self.bindir = find_bindir()
        self.data_dir = resolve_data_dir(data_dir)
        self.durable = durable
        self.max_connections = max_connections
        self.port: int | None = None
        self._started_here = False
        self._as_postgres = os.geteuid() == 0

    def _cmd(self, binary: str, *args: str) -> list[str]:
        cmd = [str(self.bindir / binary), *args]
        return ["runuser", "-u", "postgres", "--", *cmd] if self._as_postgres else cmd

    def _run(self, binary: str, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self._cmd(binary, *args), capture_output=True, text=True, check=False, cwd="/"
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{binary} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )
        return result

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)

    def _running_port(self) -> int | None:
        """The port of a server already running on this folder (another paylive process)."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        status = subprocess.run(
            self._cmd("pg_ctl", "status", "-D", str(self.data_dir)),
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
        )
        if status.returncode != 0:
            return None
        lines = pid_file.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].isdigit() else None

    def start(self) -> str:
        self._prepare_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initialising PostgreSQL cluster in %s", self.data_dir)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
                "--no-sync",  # a new, empty cluster: nothing to lose, seconds to save
            )
        port = self._running_port()
        if port is None:
            # A restart keeps the port, so clients' DSNs stay valid.
            port = self.port or _free_port()
            options = [
                "-c listen_addresses=127.0.0.1",
                f"-p {port}",
                "-c unix_socket_directories=''",
                f"-c max_connections={self.max_connections}",
            ]
            if not self.durable:
                options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                " ".join(options),
            )
            self._started_here = True
            log.info("PostgreSQL started on 127.0.0.1:%d (data in %s)", port, self.data_dir)
        else:
            log.info("reusing PostgreSQL already running on 127.0.0.1:%d", port)
        self.port = port
        self._ensure_database("paylive")
        return self.dsn("paylive")

    def dsn(self, database: str) -> str:
        if self.port is None:
            raise EmbeddedPostgresError("cluster not started")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _ensure_database(self, name: str) -> None:
        assert self.port is not None
        args = ("-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER)
        exists = self._run(
            "psql",
            *args,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",  # noqa: S608 - the operator's DB name
        )
        if exists.stdout.strip() != "1":
            self._run("createdb", *args, name)

    def stop(self) -> None:
        if not self._started_here:
            return
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
        self._started_here = False
        log.info("PostgreSQL stopped")

    def destroy(self) -> None:
        """Stop and delete the folder (throwaway test clusters only)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
