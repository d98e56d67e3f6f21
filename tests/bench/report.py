"""The table ``python -m tests.bench`` prints: one row per measure of each benchmark."""

from __future__ import annotations

import statistics
from typing import Any

from tests.bench import bench_brokers, bench_e2e, bench_notify, targets
from tests.bench.bench_push import latency_rows


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _ingest_rows(prefix: str, ingest: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for level in ingest["levels"]:
        c, svc, ref = level["concurrency"], level["service"], level["reference_sql"]
        rows += [
            (f"{prefix} c={c}", "service events/s", _fmt(svc["events_per_s"]), ""),
            (f"{prefix} c={c}", "reference SQL events/s", _fmt(ref["events_per_s"]), ""),
            (
                f"{prefix} c={c}",
                "ratio service/reference",
                _fmt(level["ratio"]),
                f">= {targets.INGEST_RATIO}",
            ),
            (
                f"{prefix} c={c}",
                "service p50 / p99 ms",
                f"{svc['p50_ms']} / {svc['p99_ms']}",
                "",
            ),
            (
                f"{prefix} c={c}",
                "reference p50 / p99 ms",
                f"{ref['p50_ms']} / {ref['p99_ms']}",
                "",
            ),
            (
                f"{prefix} c={c}",
                "CPU us/event: service; its PostgreSQL",
                f"{_fmt(svc.get('service_cpu_us_per_event'))}; "
                f"{_fmt(svc.get('postgres_cpu_us_per_event'))}",
                "",
            ),
            (
                f"{prefix} c={c}",
                "CPU us/event: SQL driver; its PostgreSQL",
                f"{_fmt(ref.get('driver_cpu_us_per_event'))}; "
                f"{_fmt(ref.get('postgres_cpu_us_per_event'))}",
                "",
            ),
        ]
    return rows


def table(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, measure, value, target) rows."""
    rows: list[tuple[str, str, str, str]] = []
    for key, prefix in (("ingest", "ingest"), ("history", "ingest on history")):
        if ingest := results.get(key):
            rows += _ingest_rows(prefix, ingest)
    for suffix, label in (("", ""), ("_gc_default", " (gc defaults)")):
        if push := results.get("push" + suffix):
            if first := push.get("first_second"):
                name = f"push {push['sockets']} ws @{first['rate_per_s']:.0f}/s{label}"
                rows += latency_rows(name + ", first second", first, "as later")[:1]
            for run in push["runs"]:
                name = f"push {push['sockets']} ws @{run['rate_per_s']:.0f}/s{label}"
                rows += latency_rows(name, run, f"p99 < {targets.PUSH_P99_MS:g}")
                if len(seconds := run.get("second_p99_ms") or []) > 1:
                    rest = seconds[1:]
                    rows.append(
                        (
                            name,
                            "p99 of each second: its first; the rest's median (range) ms",
                            f"{_fmt(seconds[0])}; {_fmt(float(statistics.median(rest)))} "
                            f"({_fmt(min(rest))}-{_fmt(max(rest))})",
                            "",
                        )
                    )
                rows.append(
                    (name, "machine CPU busy (all cores)", _fmt(run["machine_cpu_busy"]), "")
                )
                if run.get("autovacuum_passes") is not None:
                    rows.append(
                        (name, "autovacuum passes in the run", str(run["autovacuum_passes"]), "")
                    )
        if sockets := results.get("sockets" + suffix):
            name = f"sockets {sockets['sockets']}{label}"
            rows += [
                (
                    name,
                    "KiB per idle subscribed socket",
                    _fmt(sockets["kib_per_socket"]),
                    f"< {targets.KIB_PER_SOCKET:g}",
                ),
                (
                    name,
                    "one update to all: median (max) ms",
                    f"{sockets['push_all_median_ms']} ({sockets['push_all_max_ms']})",
                    f"median < {targets.FAN_OUT_MS:g}",
                ),
                (
                    name,
                    "CPU ms per update to all: service / clients (median)",
                    " / ".join(
                        _fmt(float(statistics.median(r[k] for r in sockets["pushes"])))
                        for k in ("service_cpu_ms", "clients_cpu_ms")
                    ),
                    "",
                ),
                (
                    name,
                    "missing (all pushes)",
                    str(sum(r["missing"] for r in sockets["pushes"])),
                    "0",
                ),
            ]
    if create := results.get("create"):
        for level in create["levels"]:
            c = level["concurrency"]
            rows += [
                (
                    f"create c={c}",
                    "overhead p50 / p99 ms",
                    f"{level['overhead_p50_ms']} / {level['overhead_p99_ms']}",
                    f"p50 < {targets.CREATE_OVERHEAD_P50_MS:g}" if c == 1 else "",
                ),
                (
                    f"create c={c}",
                    "emulator p50 / p99 ms",
                    f"{level['emulator_p50_ms']} / {level['emulator_p99_ms']}",
                    "",
                ),
                (
                    f"create c={c}",
                    "CPU ms per create: service / PostgreSQL",
                    f"{level.get('service_cpu_ms_per_create')} / "
                    f"{level.get('postgres_cpu_ms_per_create')}",
                    "",
                ),
            ]
    rows += bench_notify.table_rows(results.get("notify"))  # sizes: see bench_notify.py
    rows += bench_e2e.table_rows(results.get("e2e"))
    rows += bench_brokers.table_rows(results.get("brokers"))
    return rows


def context_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, result in results.items():
        gc = result.get("service_gc_pauses")
        load = result.get("loadavg_1m_before_after")
        if gc and load:
            rows.append(
                (
                    name,
                    "gen2 GCs incl. start and stop: n, max ms; load",
                    f"{gc['gen2']['count']}, {gc['gen2']['max_ms']}; {load[0]} -> {load[1]}",
                    "",
                )
            )
    return rows


def print_table(rows: list[tuple[str, str, str, str]], header: str) -> None:
    heads = ("benchmark", "measure", "value", "target")
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print("\n" + header)
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
