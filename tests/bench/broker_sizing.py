"""What a 1M-socket, 5,000-webhooks/s deployment needs, per broker, worked out from the
brokers benchmark's own measurements (nothing here is a guess but ASSUMPTIONS).

Per webhook, the three-process run's CPU beyond what the same processes and servers
use idle (A ingesting, B and C each pushing the update to a socket: two sockets on two
processes per webhook) is the deployment's cost:
- service processes: enough for the sockets' memory (the larger of the 10,000-socket
  benchmark's KiB per socket, when it ran, and the one measured on B and C) and for the
  CPU (one core each: a process runs on one), whichever is more;
- database cores: its CPU per webhook; with the postgres broker every process LISTENs,
  and each listener beyond the run's three costs the server what one raw-loop delivery
  cost it;
- broker cores: the broker server's CPU per webhook (Redis runs on one thread: more
  than one core means sharding channels over several Redis servers).
Broker deliveries needed: two per webhook for Redis/NATS (one per watching process);
one per process per webhook for postgres (every process hears every change), set beside
the raw loop's measured rate (on this machine, bound by its Python subscribers) and the
rate the server's CPU per delivery allows on one core. Not modelled: what a process
holding thousands of idle sockets spends on them (``idle_cpu_ms_per_s`` is measured
with a few hundred).
"""

from __future__ import annotations

import math
from typing import Any

from tests.bench.bench_push import latency_rows

ASSUMPTIONS = {
    "sockets": 1_000_000,
    "webhooks_per_s": 5_000,
    "sockets_per_webhook": 2,  # as measured: each update due on a socket on B and on C
    "socket_mib_per_process": 1024,  # memory a process may spend on its sockets
    "planned_load": 0.5,  # cores planned at half their measured capacity (room for p99)
}


def _cores(us_per_webhook: float) -> float:
    need = ASSUMPTIONS["webhooks_per_s"] * us_per_webhook / 1e6
    return round(need / ASSUMPTIONS["planned_load"], 2)


def _one(kind: str, measured: dict[str, Any], kib_sockets_bench: float | None) -> dict[str, Any]:
    push, raw = measured["push"], measured["raw"]
    cpu = push["cpu_us_per_webhook"]
    webhooks, sockets = ASSUMPTIONS["webhooks_per_s"], ASSUMPTIONS["sockets"]
    kib = max(kib_sockets_bench or 0.0, push["kib_per_socket"], 0.1)
    per_process = int(ASSUMPTIONS["socket_mib_per_process"] * 1024 / kib)
    by_memory = math.ceil(sockets / per_process)
    by_cpu = math.ceil(_cores(cpu["ingesting_process"] + cpu["socket_processes"]))
    processes = max(by_memory, by_cpu)
    db_us = cpu["database"]
    per_delivery = raw["server_cpu_us_per_delivery"] or 0.0
    if kind == "postgres":
        db_us += per_delivery * max(0, processes - 3)
        deliveries = webhooks * processes
    else:
        deliveries = webhooks * ASSUMPTIONS["sockets_per_webhook"]
    broker_cores = _cores(cpu["broker"]) if cpu["broker"] is not None else None
    if kind == "postgres":
        ceiling = raw["publishes_per_s"]
        verdict = (
            f"NOTIFY rate with {raw['subscribers']} listeners {ceiling:,.0f}/s "
            f"{'<' if ceiling < webhooks else '>='} {webhooks:,}/s needed"
        )
    elif kind == "redis" and broker_cores is not None and broker_cores > 1:
        verdict = f"{broker_cores} cores > 1 Redis thread: shard channels over Redis servers"
    else:
        verdict = "fits"
    return {
        "kib_per_socket": round(kib, 2),
        "sockets_per_process": per_process,
        "processes_by_memory": by_memory,
        "processes_by_cpu": by_cpu,
        "processes": processes,
        "database_cpu_us_per_webhook": round(db_us, 1),
        "database_cores": _cores(db_us),
        "broker_cores": broker_cores,
        "broker_deliveries_per_s_needed": deliveries,
        "broker_deliveries_per_s_measured": raw["deliveries_per_s"],
        "broker_deliveries_per_s_per_core": round(1e6 / per_delivery) if per_delivery else None,
        "verdict": verdict,
    }


def size(per_broker: dict[str, Any], kib_sockets_bench: float | None) -> dict[str, Any]:
    return {
        "assumptions": ASSUMPTIONS,
        "kib_per_socket_sockets_bench": kib_sockets_bench,
        "per_broker": {k: _one(k, m, kib_sockets_bench) for k, m in per_broker.items()},
    }


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def print_table(sizing: dict[str, Any]) -> None:
    a = sizing["assumptions"]
    print(
        f"\nbrokers sizing: {a['sockets']:,} sockets, {a['webhooks_per_s']:,} webhooks/s "
        f"(each due on {a['sockets_per_webhook']} sockets; {a['socket_mib_per_process']} MiB "
        f"of sockets per process; cores planned at {a['planned_load']:.0%} load)"
    )
    print(
        "| broker | KiB/socket | processes (memory / CPU) | database cores | broker cores "
        "| deliveries/s needed / measured / per broker core | verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind, s in sizing["per_broker"].items():
        print(
            f"| {kind} | {s['kib_per_socket']} | {s['processes']} ({s['processes_by_memory']}"
            f" / {s['processes_by_cpu']}) | {s['database_cores']} | {_n(s['broker_cores'])} | "
            f"{_n(s['broker_deliveries_per_s_needed'])} / "
            f"{_n(s['broker_deliveries_per_s_measured'])} / "
            f"{_n(s['broker_deliveries_per_s_per_core'])} | {s['verdict']} |",
            flush=True,
        )


def table_rows(brokers: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The main table's rows: each broker's measurements, then its sizing."""
    rows: list[tuple[str, str, str, str]] = [
        (
            f"brokers database {side}",
            "fsync; synchronous_commit; full_page_writes",
            "; ".join(settings.values()),
            "",
        )
        for side, settings in brokers["databases"].items()
    ]
    level = brokers["concurrency"]
    for kind, m in brokers["per_broker"].items():
        on, off, push, raw = m["ingest"]["fsync_on"], m["ingest"]["fsync_off"], m["push"], m["raw"]
        name = f"brokers {kind}"
        cpu = push["cpu_us_per_webhook"]
        rows += [
            (
                f"{name} ingest c={level}",
                "webhooks/s fsync on / off",
                f"{on['events_per_s']:,.1f} / {off['events_per_s']:,.1f}",
                "",
            ),
            (
                f"{name} ingest c={level}",
                "p99 ms fsync on / off",
                f"{on['p99_ms']} / {off['p99_ms']}",
                "",
            ),
            (
                f"{name} ingest c={level}",
                "CPU us/webhook fsync on: service; database; broker",
                f"{on.get('service_cpu_us_per_event')}; {on.get('postgres_cpu_us_per_event')}; "
                f"{on.get('broker_cpu_us_per_event', '-')}",
                "",
            ),
        ]
        label = f"{name} A->B,C {push['sockets']} ws @{push['rate_per_s']:.0f}/s"
        rows += latency_rows(label, push, "")
        rows += [
            (
                label,
                "CPU us/webhook beyond idle: A; B+C; database; broker",
                f"{cpu['ingesting_process']}; {cpu['socket_processes']}; {cpu['database']}; "
                f"{cpu['broker'] if cpu['broker'] is not None else '-'}",
                "",
            ),
            (label, "KiB per socket (B, C)", f"{push['kib_per_socket']}", ""),
            (
                f"{name} raw, {raw['subscribers']} subscribers",
                "deliveries/s; server us/delivery; lost",
                f"{raw['deliveries_per_s']:,.0f}; {raw['server_cpu_us_per_delivery']}; "
                f"{raw['lost']}",
                "lost 0",
            ),
        ]
    a = brokers["sizing"]["assumptions"]
    target = f"sizing {a['sockets'] // 1000}k ws, {a['webhooks_per_s']}/s"
    for kind, s in brokers["sizing"]["per_broker"].items():
        rows += [
            (
                f"{target}: {kind}",
                "processes (memory / CPU); database cores; broker cores",
                f"{s['processes']} ({s['processes_by_memory']} / {s['processes_by_cpu']}); "
                f"{s['database_cores']}; {_n(s['broker_cores'])}",
                "",
            ),
            (f"{target}: {kind}", "verdict", s["verdict"], ""),
        ]
    return rows
