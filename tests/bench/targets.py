"""The targets the benchmarks are held to (issue 21), in one place: the JSON results and
the printed table state them from here, as the README's tables do."""

INGEST_RATIO = 0.85  # service / raw SQL events/s, at each concurrency, empty or 1M stored
E2E_RATIO_ONE_PROCESS = 0.65  # `serve` against a fixed six-round-trip transaction
PUSH_P99_MS = 10.0  # webhook -> browser, 1,000 sockets, at 500/s and 1,000/s
KIB_PER_SOCKET = 16.0  # idle subscribed socket
FAN_OUT_MS = 120.0  # one update to 10,000 sockets, median
CREATE_OVERHEAD_P50_MS = 1.5  # over the Stripe call, c=1
NOTIFY_RATIO = 0.85  # ingestion with merchant notifications on / off
