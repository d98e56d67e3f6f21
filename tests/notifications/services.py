"""Real service processes delivering notifications to a test receiver."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.notifications.receiver import SECRET, Receiver
from tests.support.processes import free_port, spawn_service, wait_ready
from tests.support.settings import TEST_API_KEY


def service_env(database_url: str, receiver: Receiver, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": "sk_test_paylive_notify",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "API_KEYS": TEST_API_KEY,
        "RECONCILE_ENABLED": "false",
        "MERCHANT_WEBHOOK_URLS": receiver.url,
        "MERCHANT_WEBHOOK_SECRET": SECRET,
        "MERCHANT_WEBHOOK_TIMEOUT_SECONDS": "1",  # a lease of 2.5 s
        "MERCHANT_WEBHOOK_RETRY_SCHEDULE": "0.05,0.05,0.05,0.05,0.05",
        "MERCHANT_WEBHOOK_POLL_SECONDS": "0.1",
        **extra,
    }


@contextmanager
def stopped_at_exit(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    url: str


@asynccontextmanager
async def running_service(env: dict[str, str]) -> AsyncIterator[Served]:
    """`python -m service serve` with `env`, ready, until the block ends (then SIGTERM)."""
    url = f"http://127.0.0.1:{free_port()}"
    process = spawn_service(env, "--port", url.rsplit(":", 1)[1])
    with stopped_at_exit([process]):
        async with aiohttp.ClientSession() as session:
            assert await wait_ready(session, url)
        yield Served(process, url)


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(proc_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                pass  # gone meanwhile
    return found


def alive(pid: int) -> bool:
    try:
        return proc_stat(pid)[0] != "Z"
    except OSError:
        return False
