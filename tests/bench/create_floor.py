"""``python -m tests.bench.create_floor``: what a payment creation costs on this stack
with nothing of the service's own around it.

``POST /api/payment-intents`` is timed the way the create benchmark times the service
(overhead = its p50 minus the emulator's own create, c=1), against a bare aiohttp
handler in its own process that makes the same calls with the service's own code and
nothing else (no middleware, validation, domain rules, logs or metrics):
  four   the idempotency key's claim, the payment row, the Stripe call (stripe-python
         through ``StripeGateway``), the Stripe ids, the key's answer: the service's
         four statements;
  row    the payment row, the Stripe call and the Stripe ids: two statements;
  none   the Stripe call alone.
The differences say what each part costs; "four" is the floor of the service's design.

Environment: BENCH_FLOOR_REQUESTS per variant and round (2000), BENCH_FLOOR_ROUNDS (2),
BENCH_DATABASE_URL as for ``make bench``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from service.db import idempotency_repo
from service.db.pool import create_pool
from service.db.store import PgStore
from service.event_loop import new_event_loop
from service.http.serialize import payment_out
from service.payments.models import NewPayment, StripeIds
from service.stripe_gateway import StripeGateway
from tests.bench import bench_create
from tests.bench.common import (
    DUMMY_STRIPE_KEY,
    ServiceProcess,
    env_int,
    free_port,
    postmaster_pid,
    run_emulator,
    run_service,
    stop_process,
    wait_ready,
)
from tests.support.postgres import TestPostgres

VARIANTS = ("four", "row", "none")


def bare_app(database_url: str, stripe_api_base: str, variant: str) -> web.Application:
    """The create endpoint reduced to `variant`'s calls."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    app = web.Application()
    resources: dict[str, Any] = {}

    async def resources_ctx(app: web.Application) -> Any:
        pool = await create_pool(database_url, min_size=4, max_size=10)
        resources["pool"] = pool
        resources["store"] = PgStore(pool, notify_merchants=False)
        resources["gateway"] = StripeGateway(DUMMY_STRIPE_KEY, api_base=stripe_api_base)
        yield
        await resources["gateway"].close()
        await pool.close()

    async def create(request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        pool, store, gateway = resources["pool"], resources["store"], resources["gateway"]
        key = request.headers["Idempotency-Key"]
        token = None
        if variant == "four":
            claim = await idempotency_repo.claim(
                pool,
                principal="apikey:floor",
                key=key,
                method="POST",
                path=request.path,
                request_hash=hashlib.sha256(raw).hexdigest(),
                ttl_seconds=86400,
                lease_seconds=60,
            )
            assert isinstance(claim, idempotency_repo.Claimed)
            token = claim.token
        payment_id = uuid.uuid4()
        if variant != "none":
            new = NewPayment(
                id=payment_id,
                order_id=body["order_id"],
                customer_id=None,
                flow="payment_intent",
                amount=body["amount"],
                currency=body["currency"],
                capture_method="automatic",
                description=None,
                metadata={},
            )
            inserted = await store.add_payment(new)
            assert inserted is not None
        intent = await gateway.create_payment_intent(
            amount=body["amount"],
            currency=body["currency"],
            customer=None,
            description=None,
            metadata={"paylive_payment_id": str(payment_id), "order_id": body["order_id"]},
            capture_method="automatic",
            payment_method_types=None,
            idempotency_key=f"paylive-pi-{payment_id}",
        )
        if variant == "none":
            return web.json_response({"id": intent.id, "client_secret": intent.client_secret})
        ids = StripeIds(stripe_payment_intent_id=intent.id, client_secret=intent.client_secret)
        async with store.connection() as db:
            payment = await db.attach_stripe_ids(payment_id, ids)
        out = payment_out(payment).model_dump(mode="json")
        if token is not None:
            await idempotency_repo.complete(
                pool, principal="apikey:floor", key=key, token=token, status=201, body=out
            )
        return web.json_response(out, status=201)

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.cleanup_ctx.append(resources_ctx)
    app.router.add_post("/api/payment-intents", create)
    app.router.add_get("/readyz", ready)
    return app


async def _measure_bare(
    variant: str, database_url: str, emulator_url: str, requests: int, work_dir: Path
) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "FLOOR_DATABASE_URL": database_url,
        "FLOOR_STRIPE_API_BASE": emulator_url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.create_floor", "serve", variant, str(port), env=env
    )
    bare = ServiceProcess(proc, f"http://127.0.0.1:{port}", work_dir / f"floor_{variant}.log")
    try:
        await wait_ready(bare.url + "/readyz", proc)
        result = await bench_create.run(
            bare, emulator_url, [1], requests, postmaster=await postmaster_pid(database_url)
        )
    finally:
        await stop_process(proc)
    level: dict[str, Any] = result["levels"][0]
    return level


async def measure(pg: TestPostgres, requests: int, rounds: int) -> list[dict[str, Any]]:
    """Per round and variant (the service itself as "service"): the create bench's row."""
    work_dir = Path(tempfile.mkdtemp(prefix="paylive-floor-"))
    url = pg.create_database("bench_create_floor")
    rows = []
    try:
        async with run_emulator(work_dir) as emulator_url:
            for round_ in range(rounds):
                for variant in VARIANTS:
                    level = await _measure_bare(variant, url, emulator_url, requests, work_dir)
                    rows.append({"round": round_, "variant": variant, **level})
                async with run_service(url, work_dir, "create", STRIPE_API_BASE=emulator_url) as s:
                    result = await bench_create.run(
                        s, emulator_url, [1], requests, postmaster=await postmaster_pid(url)
                    )
                rows.append({"round": round_, "variant": "service", **result["levels"][0]})
    finally:
        pg.drop_database(url)
    return rows


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        variant, port = sys.argv[2], int(sys.argv[3])
        app = bare_app(
            os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_STRIPE_API_BASE"], variant
        )
        web.run_app(
            app,
            host="127.0.0.1",
            port=port,
            loop=new_event_loop("uvloop"),
            access_log=None,
            print=None,
        )
        return
    pg = TestPostgres.start(os.environ.get("BENCH_DATABASE_URL"))
    try:
        rows = asyncio.run(
            measure(pg, env_int("BENCH_FLOOR_REQUESTS", 2000), env_int("BENCH_FLOOR_ROUNDS", 2))
        )
    finally:
        pg.stop()
    for row in rows:
        print(
            f"round {row['round']} {row['variant']:7s}: overhead p50 {row['overhead_p50_ms']} ms "
            f"(emulator {row['emulator_p50_ms']}); CPU per create: service "
            f"{row['service_cpu_ms_per_create']} ms, PostgreSQL "
            f"{row.get('postgres_cpu_ms_per_create')} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
