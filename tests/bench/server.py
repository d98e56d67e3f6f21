"""The service for a benchmark, in its own process: ``python -m tests.bench.server``.

The same app and access log as ``python -m service serve``, with the file-descriptor
limit raised (10,000 sockets) and no migration step (the bench database is migrated).
Settings come from the environment as usual; ``PORT`` is the port to bind.
``BENCH_PROFILE=<path>`` runs the whole process under cProfile and writes the stats there.
"""

from __future__ import annotations

import cProfile
import gc
import os
import signal
import sys
import time
from types import FrameType

from aiohttp import web

from service.app import create_app
from service.config import SettingsError, load_settings
from service.gc_tuning import tune_for_serving
from service.http.request_id import JsonAccessLogger
from service.logs import configure_logging
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
    profile_path = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_path else None

    def stop(signum: int, frame: FrameType | None) -> None:
        raise web.GracefulExit

    signal.signal(signal.SIGTERM, stop)
    if profiler is not None:
        profiler.enable()
    app = create_app(settings)
    # As ``python -m service serve`` does; BENCH_GC_THRESHOLD=default keeps CPython's
    # defaults (the what-if), or a, b, c sets other thresholds.
    thresholds = os.environ.get("BENCH_GC_THRESHOLD", "")
    if thresholds != "default":

        async def tune_gc(app: web.Application) -> None:
            if thresholds:
                a, b, c = (int(t) for t in thresholds.split(","))
                tune_for_serving((a, b, c))
            else:
                tune_for_serving()

        app.on_startup.append(tune_gc)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            access_log_class=JsonAccessLogger,
            shutdown_timeout=2,
            print=None,
            handle_signals=False,
        )
    except web.GracefulExit:
        pass
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
