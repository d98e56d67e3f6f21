"""The demo's helper processes (the Stripe emulator, the Clerk stand-in): started at once,
awaited until they answer only when needed (so their start-ups overlap the database's and
each other's), and stopped when the demo stops."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def child_process(
    command: list[str], *, env: Mapping[str, str], pass_fds: tuple[int, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the context ends (terminate, then kill after 5 s)."""
    process = subprocess.Popen(command, env=dict(env), pass_fds=pass_fds)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], name: str, seconds: float = 60
) -> None:
    """Return once `url` answers; RuntimeError if the child exits or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - a local child
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not start in time")
