"""The web process's handle on its delivery process (``MERCHANT_WEBHOOK_DELIVERY=process``).

Why a process: delivering costs CPU (an HTTP request and two statements per notification)
that would otherwise come out of webhook ingestion, creation and pushes on the same event
loop. A child at a lower priority (``MERCHANT_WEBHOOK_NICE``) gets the CPU the web
process leaves; under a burst the backlog waits in the outbox and drains after, and a
busy or slow merchant cannot slow the web process. It is restarted if it dies; it stops
when its stdin closes, so it never outlives this process (see ``process_main.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

from service.config import Settings, as_environment
from service.notifications.process_main import NUDGE
from service.notifications.stats import DeliveryStats

log = logging.getLogger(__name__)

# What the child reads from its environment: the database and the merchant_webhook_* group.
CHILD_SETTINGS = (
    "database_url",
    "db_statement_cache_size",
    "event_loop",
    "log_level",
    "shutdown_timeout_seconds",
    "merchant_webhook_urls",
    "merchant_webhook_secret",
    "merchant_webhook_timeout_seconds",
    "merchant_webhook_retry_schedule",
    "merchant_webhook_concurrency",
    "merchant_webhook_poll_seconds",
    "merchant_webhook_nice",
    "merchant_webhook_yield_seconds",
)
NUDGE_EVERY_SECONDS = 0.002
START_SECONDS = 30.0
FIRST_RESTART_SECONDS = 0.5
MAX_RESTART_SECONDS = 30.0


class DeliveryChild:
    def __init__(self, settings: Settings) -> None:
        self._env = {**os.environ, **as_environment(settings, CHILD_SETTINGS)}
        self._stop_seconds = settings.shutdown_timeout_seconds
        self._stats = DeliveryStats()
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._nudge_due = False

    @property
    def stats(self) -> DeliveryStats:
        return self._stats

    async def start(self) -> None:
        """Start the child and wait for its first report: the web process is ready once
        its delivery is (and the child's start-up never competes with the first load)."""
        await self._spawn()
        await self._read_report(START_SECONDS)
        self._supervisor = asyncio.create_task(self._supervise(), name="delivery-process")

    async def _read_report(self, seconds: float) -> None:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), seconds)
        except TimeoutError:
            log.warning("delivery process %d silent after %g s; going on", process.pid, seconds)
            return
        if line:
            self._take(line)

    def nudge(self) -> None:
        """Called after every commit that wrote a notification: one line per few ms at
        most, however many commits (the child claims them together anyway)."""
        if not self._nudge_due:
            self._nudge_due = True
            asyncio.get_running_loop().call_later(NUDGE_EVERY_SECONDS, self._send_nudge)

    def _send_nudge(self) -> None:
        self._nudge_due = False
        process = self._process
        if process is not None and process.stdin is not None and process.returncode is None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                process.stdin.write(NUDGE)

    async def stop(self) -> None:
        """Close its stdin (it finishes up and exits), then terminate it if it lingers."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), self._stop_seconds)
            except TimeoutError:
                log.warning("delivery process %d did not stop; killing it", process.pid)
                process.kill()
                await process.wait()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)

    async def _spawn(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "deliver",
            "--piped",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
        )
        log.info("delivery process %d started", self._process.pid)

    def _take(self, line: bytes) -> bool:
        try:
            self._stats = DeliveryStats.from_json(line)
        except ValueError:
            log.warning("delivery process: unexpected output %r", line[:200])
            return False
        return True

    async def _supervise(self) -> None:
        pause = FIRST_RESTART_SECONDS
        while True:
            process = self._process
            assert process is not None
            assert process.stdout is not None
            while line := await process.stdout.readline():
                if self._take(line):
                    pause = FIRST_RESTART_SECONDS  # it ran: a later death restarts soon
            code = await process.wait()
            if self._stopping:
                return
            log.error("delivery process %d exited with %d; restarting", process.pid, code)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RESTART_SECONDS)
            await self._spawn()
            await self._read_report(START_SECONDS)
