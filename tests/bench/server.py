"""The service for a benchmark, in its own process: ``python -m tests.bench.server``.

``python -m service serve``'s own ``serve`` (same app, access log and GC tuning), with
the file-descriptor limit raised (10,000 sockets) and no migration step (the bench
database is migrated).
Settings come from the environment as usual; ``PORT`` is the port to bind.
``BENCH_PROFILE=<path>`` runs the whole process under cProfile and writes the stats there.
"""

from __future__ import annotations

import cProfile
import gc
import os
import sys
import time

from service.config import SettingsError, load_settings
from service.gc_tuning import SERVING_THRESHOLDS
from service.logs import configure_logging
from service.serving import serve
from tests.bench.common import raise_fd_limit


def _log_gc_pauses() -> None:
    """Print every cyclic-GC pass over 1 ms (generation, duration) to stderr."""
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        if took > 0.001:
            print(
                f"bench gc: generation {info['generation']} took {took * 1000:.1f} ms, "
                f"collected {info['collected']}",
                file=sys.stderr,
                flush=True,
            )

    gc.callbacks.append(callback)


def main() -> int:
    raise_fd_limit()
    if os.environ.get("BENCH_GC_LOG"):
        _log_gc_pauses()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"bench server: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    # BENCH_GC_THRESHOLD: "default" keeps CPython's (the what-if), "a,b,c" sets others.
    thresholds: tuple[int, int, int] | None = SERVING_THRESHOLDS
    if (given := os.environ.get("BENCH_GC_THRESHOLD", "")) == "default":
        thresholds = None
    elif given:
        a, b, c = (int(t) for t in given.split(","))
        thresholds = (a, b, c)
    profile_path = os.environ.get("BENCH_PROFILE")
    # CPU time, not wall time: on a shared machine a preempted send() would look costly.
    profiler = cProfile.Profile(time.process_time) if profile_path else None
    if profiler is not None:
        profiler.enable()
    try:
        serve(settings, settings.host, settings.port, gc_thresholds=thresholds)
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
