"""How busy the web process is, read from /proc: lets its delivery process wait out a burst.

Lowering the child's priority is not enough on its own: the web process and PostgreSQL
hand each request back and forth, and the idle moments in between are enough for a niced
process to keep delivering, and the database work of each delivery (a claim, an answer
recorded) runs at full priority. So before each claim the child looks at its parent's
CPU time; while the parent is busier than ``busy`` (a share of one core: its event loop is
one thread) the child waits, until what is due has waited ``max_wait`` seconds: a burst
is absorbed, and under lasting load everything still goes, ``max_wait`` late. The host's
own load is no guide: the deliveries' database work and the merchant's would count
against themselves.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from pathlib import Path

BUSY_SHARE = 0.5  # of one core; a web process serving flat out uses 0.8-0.9 here
SAMPLE_SECONDS = 0.025
WINDOW_SAMPLES = 6  # the share is over the last 0.125 s: CPU time comes in 10 ms ticks
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat: Path) -> float | None:
    """utime + stime of the process whose /proc/<pid>/stat this is."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of stat(5)


class WebLoad:
    """Samples the process's CPU time in the background (``run``); ``wait`` reads it."""

    def __init__(self, pid: int, max_wait: float, busy: float = BUSY_SHARE) -> None:
        self.max_wait = max_wait
        self.waited_seconds = 0.0
        self._stat = Path(f"/proc/{pid}/stat")
        self._busy = busy
        self._samples: deque[tuple[float, float]] = deque(maxlen=WINDOW_SAMPLES)

    def sample(self) -> None:
        used = _cpu_seconds(self._stat)
        if used is not None:
            self._samples.append((time.monotonic(), used))

    async def run(self) -> None:
        """Forever: a sample every ``SAMPLE_SECONDS``, so a burst shows within about 0.05 s."""
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_SECONDS)

    def busy_share(self) -> float | None:
        """Share of one core the process used over the last samples; None before two."""
        if len(self._samples) < 2:
            return None
        (then, used_then), (at, used) = self._samples[0], self._samples[-1]
        return (used - used_then) / (at - then) if at > then else None

    async def wait(self, since: float) -> None:
        """Return once the web process has room, or once what is due has waited
        ``max_wait`` seconds since ``since`` (monotonic): a burst is waited out, a busy
        hour is not (then everything goes that much later, but all of it goes)."""
        started = time.monotonic()
        while time.monotonic() - since < self.max_wait:
            busy = self.busy_share()
            if busy is None or busy < self._busy:
                break
            await asyncio.sleep(SAMPLE_SECONDS)
        self.waited_seconds += time.monotonic() - started
