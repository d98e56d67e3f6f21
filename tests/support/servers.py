"""Real Redis, NATS and pgbouncer servers for tests, from Debian's packages, each on a
free loopback port in its own throwaway folder; stoppable (kill -9) and restartable on
the same port, to make "the broker went away" real."""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.processes import free_port

INSTALL_HINT = "apt-get install -y redis-server nats-server pgbouncer"


def _wait_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds}s")


def _binary(name: str, *folders: str) -> str:
    for folder in ("", *folders):
        found = shutil.which(name, path=folder or None)
        if found:
            return found
    raise RuntimeError(f"{name} is not installed ({INSTALL_HINT})")


class ServerProcess(abc.ABC):
    """One server binary; ``command()`` gives its argv for the current port."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=f"paylive-test-{name}-"))
        self._process: subprocess.Popen[bytes] | None = None

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    @property
    def pid(self) -> int:
        """The running server's process id (for its CPU time)."""
        assert self._process is not None
        return self._process.pid

    def start(self) -> ServerProcess:
        with (self.folder / "server.log").open("ab") as log:
            # A session of its own: signals go to its whole group, so a server started
            # through runuser (pgbouncer, as root) is signalled too, not just runuser.
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                start_new_session=True,
            )
        _wait_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes without a goodbye to its clients."""
        if self._process is not None:
            self._signal(signal.SIGKILL)
            self._process.wait(timeout=10)
            self._process = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing is answered (a hung broker)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self._process.pid, sig)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self._process is not None:
            self._signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisServer(ServerProcess):
    def __init__(self) -> None:
        super().__init__("redis")

    def command(self) -> list[str]:
        binary = _binary("redis-server", "/usr/sbin", "/usr/local/bin")
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class NatsServer(ServerProcess):
    def __init__(self) -> None:
        super().__init__("nats")

    def command(self) -> list[str]:
        binary = _binary("nats-server", "/usr/sbin", "/usr/local/bin")
        return [binary, "-a", "127.0.0.1", "-p", str(self.port)]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


BrokerServer = RedisServer | NatsServer


def start_broker(kind: str) -> BrokerServer | None:
    """A started server for ``kind`` (``redis``/``nats``); None for ``postgres`` (no server)."""
    if kind == "postgres":
        return None
    if kind not in ("redis", "nats"):
        raise ValueError(f"unknown broker {kind!r}")
    server: BrokerServer = RedisServer() if kind == "redis" else NatsServer()
    server.start()
    return server


def broker_url(server: BrokerServer | None) -> str:
    """``REALTIME_BROKER`` for a server from ``start_broker``."""
    return "postgres" if server is None else server.url


class PgBouncer(ServerProcess):
    """Transaction pooling in front of ``database_url``'s server, any database name."""

    def __init__(self, database_url: str) -> None:
        super().__init__("pgbouncer")
        self.target = urlsplit(database_url)

    def command(self) -> list[str]:
        user = self.target.username or "postgres"
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={self.target.hostname} port={self.target.port} user={user}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            "unix_socket_dir =\nauth_type = any\npool_mode = transaction\n"
            "max_client_conn = 500\ndefault_pool_size = 20\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
        )
        if os.geteuid() == 0:  # PgBouncer refuses root: it runs as postgres, writes here
            shutil.chown(self.folder, user="postgres")
        binary = _binary("pgbouncer", "/usr/sbin")
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return [*as_postgres, binary, str(ini)]

    def url_for(self, database_url: str) -> str:
        """``database_url`` (same database) through this pgbouncer."""
        parts = urlsplit(database_url)
        return parts._replace(
            netloc=f"{parts.username or 'postgres'}@127.0.0.1:{self.port}"
        ).geturl()
