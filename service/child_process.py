"""The demo's helper processes (the Stripe emulator, the Clerk stand-in): started, awaited
until they answer, and stopped when the demo stops."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping


def _wait_until_up(url: str, process: subprocess.Popen[bytes], name: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - a local child
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start in time")


@contextlib.contextmanager
def running_child(
    command: list[str],
    *,
    env: Mapping[str, str],
    ready_url: str,
    name: str,
    seconds: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the context ends; ready once `ready_url` answers."""
    process = subprocess.Popen(command, env=dict(env))
    try:
        _wait_until_up(ready_url, process, name, seconds)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
