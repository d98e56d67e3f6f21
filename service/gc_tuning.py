"""Cyclic-GC settings for a serving process (``python -m service serve``).

Measured with ``make bench`` (push: 1,000 sockets, 500 webhooks/s): under CPython's
defaults (700, 10, 10) the objects of requests in flight keep getting promoted, which
set off five full collections in ten seconds, the longest 110 ms, and every push waited
behind them. So: what start-up built (imported modules, the app) is frozen, never
scanned again; young collections run every 50,000 net allocations rather than 700, so a
request's objects are usually gone before one runs; and the older generations are
collected rarely. Reference cycles among short-lived objects are still collected by the
young collections; only cyclic garbage that outlived several of them waits longer.
"""

from __future__ import annotations

import gc

SERVING_THRESHOLDS = (50_000, 20, 100)


def tune_for_serving(thresholds: tuple[int, int, int] = SERVING_THRESHOLDS) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
