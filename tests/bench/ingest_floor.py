"""``python -m tests.bench.ingest_floor``: the ingestion ratio a bare webhook handler
reaches against the ingest benchmark's raw-SQL reference.

The ingest benchmark compares the service with a reference that runs the service's own
two statements per event straight through asyncpg, with no HTTP. Here the service is
replaced by the least a webhook endpoint must do, in its own process like the service:
aiohttp receives the POST, the Stripe signature is checked, the event is parsed (what
the reference works out before timing) and the reference's own statements run on a pool
of the same size; no middleware, domain rules, logs or metrics. Its ratio is a ceiling
for any service on this stack and this machine; the service's own is measured in the
same session for comparison.

Environment: BENCH_INGEST_LEVELS (1,8,32), BENCH_INGEST_EVENTS per level (3000),
BENCH_INGEST_PAYMENTS (1000), BENCH_DB_POOL_MAX_SIZE (10), BENCH_DATABASE_URL as for
``make bench``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from service.db.pool import Pool, create_pool
from service.gc_tuning import tune_for_serving
from service.stripe_gateway import verify_webhook_signature
from tests.bench import bench_ingest
from tests.bench.common import (
    WEBHOOK_SECRET,
    env_int,
    env_ints,
    run_bare,
    run_service,
    serve_bare,
)
from tests.bench.setup import make_payments
from tests.support.postgres import TestPostgres

POOL = web.AppKey("pool", Pool)


def bare_app(database_url: str, pool_max: int) -> web.Application:
    """A webhook endpoint that checks, parses and runs the reference's statements."""

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await create_pool(database_url, min_size=pool_max, max_size=pool_max)
        yield
        await app[POOL].close()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_webhook_signature(
            body, request.headers.get("Stripe-Signature", ""), [WEBHOOK_SECRET]
        ):
            return web.json_response({"error": "bad signature"}, status=400)
        item = bench_ingest.prepare(body)
        async with request.app[POOL].acquire() as conn:
            applied = await bench_ingest.reference_tx(conn, item)
        return web.json_response({"outcome": "applied" if applied else "ignored"})

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_post("/webhooks/stripe", webhook)
    return app


async def measure(pg: TestPostgres) -> dict[str, Any]:
    """The ingest benchmark's rows against the bare handler, then against the service."""
    work_dir = Path(tempfile.mkdtemp(prefix="paylive-ingest-floor-"))
    levels = env_ints("BENCH_INGEST_LEVELS", (1, 8, 32))
    events = env_int("BENCH_INGEST_EVENTS", 3000)
    pool_max = env_int("BENCH_DB_POOL_MAX_SIZE", 10)
    url = pg.create_database("bench_ingest_floor")
    results: dict[str, Any] = {}
    try:
        payments = await make_payments(url, env_int("BENCH_INGEST_PAYMENTS", 1000))
        bare_env = {"FLOOR_DATABASE_URL": url, "FLOOR_POOL_MAX": str(pool_max)}
        async with run_bare("tests.bench.ingest_floor", [], bare_env, work_dir) as bare:
            results["bare"] = await bench_ingest.run(bare, url, payments, levels, events, pool_max)
        async with run_service(url, work_dir, "ingest") as service:
            results["service"] = await bench_ingest.run(
                service, url, payments, levels, events, pool_max
            )
    finally:
        pg.drop_database(url)
    return results


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        app = bare_app(os.environ["FLOOR_DATABASE_URL"], int(os.environ["FLOOR_POOL_MAX"]))
        serve_bare(app, int(sys.argv[2]))
        return
    tune_for_serving()  # the reference runs in this process, as in make bench
    pg = TestPostgres.start(os.environ.get("BENCH_DATABASE_URL"))
    try:
        results = asyncio.run(measure(pg))
    finally:
        pg.stop()
    for side, result in results.items():
        for level in result["levels"]:
            service, reference = level["service"], level["reference_sql"]
            print(
                f"{side:7s} c={level['concurrency']}: {service['events_per_s']:.0f}/s against "
                f"the reference's {reference['events_per_s']:.0f}/s, ratio {level['ratio']:.2f}; "
                f"CPU per event {service.get('service_cpu_us_per_event')} µs; "
                f"errors {service['errors']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
