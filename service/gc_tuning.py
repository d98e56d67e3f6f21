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
FREEZE_DELAY = 0.25  # seconds: a burst of subscriptions is frozen in small batches

_freezing = False
_pending: asyncio.Handle | None = None


def tune_for_serving(
    thresholds: tuple[int, int, int] = SERVING_THRESHOLDS, *, freeze_clients: bool = True
) -> None:
    """Freeze what exists now and set `thresholds`. Only the young generations are
    collected first: a full collection here scans every imported module's objects
    (25-35 ms) to find a few dozen cyclic objects left by imports, which stay frozen."""
    global _freezing
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(*thresholds)
    _freezing = freeze_clients


def stop_freezing() -> None:
    """Back to collecting everything (tests that tuned the GC for a while)."""
    global _freezing, _pending
    _freezing = False
    if _pending is not None:
        _pending.cancel()
        _pending = None


def freeze_soon() -> None:
    """Freeze the survivors in a moment (when serving): called once a client subscribed."""
    global _pending
    if _freezing and _pending is None:
        _pending = asyncio.get_running_loop().call_later(FREEZE_DELAY, _freeze)


def _freeze() -> None:
    global _pending
    _pending = None
    gc.collect()
    gc.freeze()
