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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from service.db import idempotency_repo
from service.db.pool import Pool, create_pool
from service.db.store import PgStore
from service.gc_tuning import tune_for_serving
from service.http.serialize import payment_out
from service.payments.models import NewPayment, StripeIds
from service.stripe_gateway import StripeGateway
from tests.bench import bench_create
from tests.bench.common import (
    DUMMY_STRIPE_KEY,
    ServiceProcess,
    env_int,
    postmaster_pid,
    run_bare,
    run_emulator,
    run_service,
    serve_bare,
)
from tests.support.postgres import TestPostgres

VARIANTS = ("four", "row", "none")

POOL = web.AppKey("pool", Pool)
STORE = web.AppKey("store", PgStore)
GATEWAY = web.AppKey("gateway", StripeGateway)


def bare_app(database_url: str, stripe_api_base: str, variant: str) -> web.Application:
    """The create endpoint reduced to `variant`'s calls."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")

    async def resources(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await create_pool(database_url, min_size=4, max_size=10)
        app[STORE] = PgStore(app[POOL], notify_merchants=False)
        app[GATEWAY] = StripeGateway(DUMMY_STRIPE_KEY, api_base=stripe_api_base)
        yield
        await app[GATEWAY].close()
        await app[POOL].close()

    async def create(request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        pool, store = request.app[POOL], request.app[STORE]
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
        intent = await request.app[GATEWAY].create_payment_intent(
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

    app = web.Application()
    app.cleanup_ctx.append(resources)
    app.router.add_post("/api/payment-intents", create)
    return app


async def measure(pg: TestPostgres, requests: int, rounds: int) -> list[dict[str, Any]]:
    """Per round and variant (the service itself as "service"): the create bench's row."""
    work_dir = Path(tempfile.mkdtemp(prefix="paylive-floor-"))
    url = pg.create_database("bench_create_floor")
    rows = []

    async def timed(service: ServiceProcess, emulator_url: str) -> dict[str, Any]:
        result = await bench_create.run(
            service, emulator_url, [1], requests, postmaster=await postmaster_pid(url)
        )
        level: dict[str, Any] = result["levels"][0]
        return level

    try:
        async with run_emulator(work_dir) as emulator_url:
            bare_env = {"FLOOR_DATABASE_URL": url, "FLOOR_STRIPE_API_BASE": emulator_url}
            for round_ in range(rounds):
                for variant in VARIANTS:
                    module = "tests.bench.create_floor"
                    async with run_bare(module, [variant], bare_env, work_dir) as bare:
                        level = await timed(bare, emulator_url)
                    rows.append({"round": round_, "variant": variant, **level})
                async with run_service(url, work_dir, "create", STRIPE_API_BASE=emulator_url) as s:
                    rows.append(
                        {"round": round_, "variant": "service", **await timed(s, emulator_url)}
                    )
    finally:
        pg.drop_database(url)
    return rows


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        port, variant = int(sys.argv[2]), sys.argv[3]
        app = bare_app(
            os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_STRIPE_API_BASE"], variant
        )
        serve_bare(app, port)
        return
    tune_for_serving()  # the load and the timing run in this process, as in make bench
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
