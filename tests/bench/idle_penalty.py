"""``python -m tests.bench.idle_penalty``: how much slower this machine runs the first
piece of work after an idle gap, with no service, database or socket involved.

Each push run's first second is slower than its later seconds, in a process just
started and in one long warm alike (README, Benchmarks). This times one unit of
request-like work (JSON in and out, lookups over a few megabytes of objects, about
0.3 ms) right after sleeping for each gap, against the same unit run back to back: on a
shared VM whose idle vCPUs the host gives to others, what our processes had in the
CPU's caches is gone when they wake, and every process on a webhook's path pays that
once at a burst's start.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass

GAPS_SECONDS = (0.002, 0.02, 0.1, 0.5, 1.5)


@dataclass(frozen=True)
class AfterIdle:
    gap_seconds: float
    first_us: float  # median over the repetitions: the first unit after the gap
    second_us: float  # the unit right after it
    later_us: float  # units six onwards, back to back


def _workload(objects: int) -> tuple[list[dict[str, object]], str]:
    rng = random.Random(21)
    data: list[dict[str, object]] = [
        {"id": i, "s": "x" * 50, "n": [rng.random() for _ in range(5)]} for i in range(objects)
    ]
    doc = json.dumps({"a": [{"k": i, "v": "y" * 30} for i in range(60)]})
    return data, doc


def measure(
    gaps: tuple[float, ...] = GAPS_SECONDS, repetitions: int = 10, objects: int = 60_000
) -> list[AfterIdle]:
    data, doc = _workload(objects)
    stride = max(1, objects // 600)

    def unit() -> int:
        total = 0
        for _ in range(6):
            total += len(json.dumps(json.loads(doc)))
        for j in range(0, objects, stride):
            total += int(str(data[(j * 7919) % objects]["id"]))
        return total

    for _ in range(200):  # warm: compiled, allocated, in cache
        unit()
    results = []
    for gap in gaps:
        firsts, seconds, later = [], [], []
        for _ in range(repetitions):
            time.sleep(gap)
            times = []
            for _ in range(20):
                started = time.perf_counter()
                unit()
                times.append((time.perf_counter() - started) * 1e6)
            firsts.append(times[0])
            seconds.append(times[1])
            later += times[5:]
        results.append(
            AfterIdle(
                gap,
                statistics.median(firsts),
                statistics.median(seconds),
                statistics.median(later),
            )
        )
    return results


def main() -> None:
    for row in measure():
        print(
            f"idle {row.gap_seconds * 1000:6.0f} ms: first unit {row.first_us:6.0f} µs, "
            f"second {row.second_us:5.0f}, back to back {row.later_us:5.0f} "
            f"({row.first_us / row.later_us:.1f}x)"
        )


if __name__ == "__main__":
    main()
