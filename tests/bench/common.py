"""Shared pieces of the benchmarks: sizes from the environment, Stripe-signed events,
percentiles, the service in its own process, and process memory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from service.emulator import objects
from service.emulator.cards import GENERIC
from service.emulator.config import API_VERSION
from service.emulator.payments import decline_error
from service.event_loop import new_event_loop
from service.gc_tuning import tune_for_serving

WEBHOOK_SECRET = "whsec_paylive_bench_0123456789abcdef"
API_KEY = "bench-api-key-0123456789abcdef"
STATUS_SECRET = "bench-status-token-secret-0123456789abcdef"
DUMMY_STRIPE_KEY = "sk_test_paylive_emulator"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def env_ints(name: str, default: Sequence[int]) -> list[int]:
    raw = os.environ.get(name)
    return [int(p) for p in raw.split(",") if p.strip()] if raw else list(default)


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def until_signalled() -> None:
    """Wait for SIGTERM or SIGINT (a benchmark's helper process, until it is stopped)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, …, utime (11), stime,
    cutime, cstime (14), …]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used so far."""
    fields = _stat(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def postgres_cpu_seconds(postmaster: int | None = None) -> float:
    """User + system CPU time so far of every process named ``postgres`` on the machine
    (exited backends are not counted), or, given its postmaster's pid, of that one
    server: the postmaster, its live children and its exited ones (reaped, so counted
    in the postmaster's cutime/cstime); other servers on a shared machine left out."""
    ticks = 0
    if postmaster is not None:
        ticks = sum(int(f) for f in _stat(postmaster)[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(entry.name)
            if postmaster is None:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
            elif int(fields[1]) != postmaster:
                continue
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return ticks / os.sysconf("SC_CLK_TCK")


def _parent_if_postgres(backend: int) -> int | None:
    """The parent of `backend` when both are processes named postgres on this machine."""
    try:
        parent = int(_stat(backend)[1])
        named = {Path(f"/proc/{p}/comm").read_text().strip() for p in (backend, parent)}
    except (OSError, IndexError, ValueError):
        return None
    return parent if named == {"postgres"} else None


async def postmaster_pid(database_url: str) -> int | None:
    """The pid of the PostgreSQL server behind `database_url`, when it runs on this
    machine (our backend's parent); None when it does not."""
    conn = await asyncpg.connect(database_url)
    try:
        return _parent_if_postgres(int(await conn.fetchval("SELECT pg_backend_pid()")))
    finally:
        await conn.close()


async def autovacuum_passes(database_url: str) -> int:
    """How many autovacuum and autoanalyze passes over `database_url`'s tables have
    finished so far. Each takes a core's worth of CPU for tens to hundreds of
    milliseconds, from the cores the benchmark's service shares."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)"
                " FROM pg_stat_user_tables"
            )
        )
    finally:
        await conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    return sum(cpu_times(pid))


# --- statistics -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# --- Stripe events ----------------------------------------------------------------------


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``, exactly as Stripe signs."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def webhook_headers(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": sign(body)}


def failed_intent_event(intent_id: str, payment_id: str, created: int) -> bytes:
    """A ``payment_intent.payment_failed`` event the way Stripe sends it (pretty JSON),
    built from the emulator's own objects: a generic decline of a fresh card.

    Each has a fresh event id, so each records an attempt and bumps the payment's version.
    """
    charge_id = f"ch_{secrets.token_hex(12)}"
    card = objects.card("4000000000000002", 12, 2030)
    pm = objects.payment_method(card, objects.billing_details(None), {})
    intent = objects.payment_intent(2500, "usd", "automatic", None)
    intent.update(
        id=intent_id,
        created=created - 5,
        metadata={"paylive_payment_id": payment_id},
        latest_charge=charge_id,
        last_payment_error=decline_error(GENERIC, charge_id, pm),
    )
    request = {"id": None, "idempotency_key": None}
    event = objects.event("payment_intent.payment_failed", intent, API_VERSION, request, None)
    event["created"] = created
    return json.dumps(event, indent=2).encode()


# --- the service in its own process -------------------------------------------------------


@dataclass
class ServiceProcess:
    proc: asyncio.subprocess.Process
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": DUMMY_STRIPE_KEY,
        "STRIPE_API_BASE": "http://127.0.0.1:9",  # nothing listens: no Stripe call expected
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "API_KEYS": API_KEY,
        "STATUS_TOKEN_SECRET": STATUS_SECRET,
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "DB_POOL_MIN_SIZE": "4",
        "SHUTDOWN_TIMEOUT_SECONDS": "2",
        "DB_POOL_MAX_SIZE": os.environ.get("BENCH_DB_POOL_MAX_SIZE", "10"),
        "BENCH_GC_LOG": os.environ.get("BENCH_GC_LOG", "1"),
        # Every benchmark client comes from 127.0.0.1, many on one payment's token.
        "WS_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
        "WS_MAX_CONNECTIONS_PER_TOKEN": "1000000",
    }
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def run_service(
    database_url: str, log_dir: Path, name: str = "service", **extra_env: str
) -> AsyncIterator[ServiceProcess]:
    """``tests.bench.server`` (create_app on a real port) in a child process."""
    port = free_port()
    env = service_env(database_url, PORT=str(port), **extra_env)
    if profile_dir := os.environ.get("BENCH_PROFILE_DIR"):
        env["BENCH_PROFILE"] = str(Path(profile_dir) / f"{name}.prof")
    async with _server_process(["tests.bench.server"], env, port, log_dir / f"{name}.log") as s:
        yield s


@contextlib.asynccontextmanager
async def _server_process(
    argv: Sequence[str], env: dict[str, str], port: int, log_path: Path
) -> AsyncIterator[ServiceProcess]:
    """``python -m *argv`` serving on `port`, its output in `log_path`: ready on /readyz
    when yielded, stopped after."""
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", *argv, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = ServiceProcess(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        await wait_ready(server.url + "/readyz", proc)
        yield server
    finally:
        await stop_process(proc)


async def wait_ready(
    url: str, proc: asyncio.subprocess.Process, timeout: float = 60.0, *, any_status: bool = False
) -> None:
    """Until `url` answers 200 (or anything, with `any_status`)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"process exited ({proc.returncode}) before it was ready")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200 or any_status:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s")


async def stop_process(proc: asyncio.subprocess.Process, timeout: float = 15.0) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def json_line(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


@contextlib.asynccontextmanager
async def run_emulator(log_dir: Path) -> AsyncIterator[str]:
    """``tests.bench.emulator_server`` in a child process; yields its base URL."""
    port = free_port()
    with (log_dir / "emulator.log").open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.emulator_server",
            str(port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url + "/v1/payment_intents", proc, any_status=True)
        yield url
    finally:
        await stop_process(proc)


@contextlib.asynccontextmanager
async def run_bare(
    module: str, args: Sequence[str], env: dict[str, str], log_dir: Path
) -> AsyncIterator[ServiceProcess]:
    """``python -m module serve <port> *args`` in a child process, ready on /readyz: a
    benchmark's bare stand-in for the service (``serve_bare``), measured like it."""
    port = free_port()
    argv = [module, "serve", str(port), *args]
    log_path = log_dir / f"{module.rsplit('.', 1)[-1]}.log"
    async with _server_process(argv, {**os.environ, **env}, port, log_path) as bare:
        yield bare


def serve_bare(app: web.Application, port: int) -> None:
    """A bare stand-in's server: the service's event loop and GC tuning, a /readyz, no
    access log."""

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def tune_gc(app: web.Application) -> None:
        tune_for_serving()  # last at start-up, as the service does

    app.router.add_get("/readyz", ready)
    app.on_startup.append(tune_gc)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        loop=new_event_loop("uvloop"),
        access_log=None,
        print=None,
    )


_GC_LINE = re.compile(rb"bench gc: generation (\d) took ([0-9.]+) ms")


def gc_pauses(log_path: Path) -> dict[str, Any]:
    """The service's cyclic-GC passes over 1 ms, from its log, per generation."""
    by_gen: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for match in _GC_LINE.finditer(log_path.read_bytes()):
        by_gen[int(match[1])].append(float(match[2]))
    return {
        f"gen{g}": {
            "count": len(p),
            "max_ms": round(max(p), 1) if p else 0.0,
            "total_ms": round(sum(p), 1),
        }
        for g, p in by_gen.items()
    }
