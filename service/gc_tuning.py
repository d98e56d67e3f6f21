"""Cyclic-GC settings for a serving process (``python -m service serve``).

Measured with ``make bench`` (push: 1,000 sockets, 500 webhooks/s): under CPython's
defaults (700, 10, 10) the objects of requests in flight keep getting promoted, which
set off five full collections in ten seconds, the longest 110 ms, and every push waited
behind them. So: what start-up built (imported modules, the app) is frozen, never
scanned again; young collections run every 50,000 net allocations rather than 700, so a
request's objects are usually gone before one runs; and the older generations are
collected rarely. Reference cycles among short-lived objects are still collected by the
young collections; only cyclic garbage that outlived several of them waits longer.

Long-lived sockets (bench sockets: 10,000 of them, ~100 tracked objects each) are
frozen as well, shortly after they subscribe (``freeze_soon``): otherwise the first
older collection after they connect scans a million objects (380 ms) and a full one
more still. A frozen object is never collected as part of a cycle, so this relies on a
closed socket leaving no reference cycle behind (its objects go by reference counting;
tests/realtime/test_gc_freeze.py holds it to that). Each freeze follows a full
collection, so no garbage of the moment is frozen; it is short, as everything older than
the previous freeze is already out of its sight.
"""

from __future__ import annotations

import asyncio
import gc

SERVING_THRESHOLDS = (50_000, 20, 100)
# A burst of subscriptions is frozen in batches: after this many (~80 tracked objects
# each, so each collection before a freeze stays a few milliseconds), or this long after
# the first of them, whichever comes first.
FREEZE_BATCH = 200
FREEZE_DELAY = 0.25  # seconds


class _Freezer:
    __slots__ = ("enabled", "timer", "waiting")

    def __init__(self) -> None:
        self.enabled = False
        self.timer: asyncio.TimerHandle | None = None
        self.waiting = 0  # subscriptions since the last freeze

    def soon(self) -> None:
        if not self.enabled:
            return
        self.waiting += 1
        if self.waiting >= FREEZE_BATCH:
            self.freeze()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FREEZE_DELAY, self.freeze)

    def freeze(self) -> None:
        self.stop()
        gc.collect()  # nothing that is garbage now gets frozen
        gc.freeze()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.waiting = 0


_FREEZER = _Freezer()


def tune_for_serving(
    thresholds: tuple[int, int, int] = SERVING_THRESHOLDS, *, freeze_clients: bool = True
) -> None:
    """Freeze what exists now and set `thresholds`. Only the young generations are
    collected first: a full collection here scans every imported module's objects
    (25-35 ms) to find a few dozen cyclic objects left by imports, which stay frozen."""
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(*thresholds)
    _FREEZER.enabled = freeze_clients


def stop_freezing() -> None:
    """Back to collecting everything (tests that tuned the GC for a while)."""
    _FREEZER.enabled = False
    _FREEZER.stop()


def freeze_soon() -> None:
    """Called once a client subscribed: when serving, its objects are frozen with the
    next batch."""
    _FREEZER.soon()
