"""The delivery process's reading of its web process's CPU, on real processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from service.notifications.web_load import WebLoad


@contextmanager
def _process(code: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


@asynccontextmanager
async def _watching(load: WebLoad) -> AsyncIterator[WebLoad]:
    sampling = asyncio.create_task(load.run())
    await asyncio.sleep(0.5)  # past the child's start-up, and a full window of samples
    try:
        yield load
    finally:
        sampling.cancel()


async def test_a_busy_process_is_waited_for_until_max_wait() -> None:
    with _process("while True: pass") as spinner:
        # A low bar: on a loaded machine a spinning process may not get a whole core.
        async with _watching(WebLoad(spinner.pid, max_wait=0.5, busy=0.2)) as load:
            share = load.busy_share()
            assert share is not None
            assert share > 0.2
            started = time.monotonic()
            await load.wait(since=started)
            assert time.monotonic() - started >= 0.5
            assert load.waited_seconds >= 0.5


async def test_what_has_waited_long_enough_goes_even_if_busy() -> None:
    with _process("while True: pass") as spinner:
        async with _watching(WebLoad(spinner.pid, max_wait=0.5, busy=0.2)) as load:
            started = time.monotonic()
            await load.wait(since=started - 10)
            assert time.monotonic() - started < 0.1


async def test_an_idle_process_is_not_waited_for() -> None:
    with _process("import time; time.sleep(60)") as sleeper:
        async with _watching(WebLoad(sleeper.pid, max_wait=5.0)) as load:
            share = load.busy_share()
            assert share is not None
            assert share < 0.5
            started = time.monotonic()
            await load.wait(since=started)
            assert time.monotonic() - started < 0.1


async def test_without_the_process_nothing_is_waited_for() -> None:
    with _process("pass") as gone:
        gone.wait()
    load = WebLoad(gone.pid, max_wait=5.0)
    load.sample()
    assert load.busy_share() is None
    started = time.monotonic()
    await load.wait(since=started)
    assert time.monotonic() - started < 0.1
