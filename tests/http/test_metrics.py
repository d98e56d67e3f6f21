"""GET /metrics after real traffic: HTTP, webhooks, live status, reconciliation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from service.app import create_app
from service.bootstrap import reconcile_config
from service.config import Settings
from service.db.watermark_repo import ReconcileStore
from service.http.metrics import METRICS, Metrics
from service.http.webhook_stats import WebhookStats
from service.keys import AUTH, DB_POOL, GATEWAY, HUB, SETTINGS, STORE
from service.payments.reconcile import ReconcileStats
from service.reconciler import Reconciler
from tests.support.api import API, Client
from tests.support.emulator import RunningEmulator
from tests.support.payments import add_payment, change
from tests.support.settings import make_settings
from tests.support.webhooks import (
    WEBHOOK_SECRET,
    emulator_call,
    intent,
    make_event,
    post_event,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def fast_settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        stripe_webhook_secrets=[WEBHOOK_SECRET],
        catch_up_seconds=0.5,
        listener_probe_seconds=0.2,
    )


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, fast_settings: Settings) -> Client:
    return await aiohttp_client(create_app(fast_settings))


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(await response.text())


def parse(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


# HTTP ------------------------------------------------------------------------------------


async def test_requests_counted_by_route_template_and_status(client: Client) -> None:
    for _ in range(2):
        assert (await client.get("/healthz")).status == 200
    missing = uuid.uuid4()
    assert (await client.get(f"/api/payments/{missing}", headers=API)).status == 404
    assert (await client.get(f"/api/payments/{missing}")).status == 401
    assert (await client.get("/no/such/page")).status == 404
    assert (await client.post("/healthz")).status == 405

    text = await (await client.get("/metrics")).text()
    samples = parse(text)
    requests = "paylive_http_requests_total"
    assert value(samples, requests, method="GET", route="/healthz", status="200") == 2
    route = "/api/payments/{payment_id}"
    assert value(samples, requests, method="GET", route=route, status="404") == 1
    assert value(samples, requests, method="GET", route=route, status="401") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert value(samples, requests, method="POST", route="unmatched", status="405") == 1
    assert str(missing) not in text  # the template, never the raw path
    assert "/no/such/page" not in text
    duration = "paylive_http_request_duration_seconds_count"
    assert value(samples, duration, route="/healthz") == 2

    again = await scrape(client)  # the first scrape counted itself
    assert value(again, requests, method="GET", route="/metrics", status="200") == 1


async def test_two_apps_in_one_process_have_their_own_registries(
    aiohttp_client: AiohttpClient, fast_settings: Settings
) -> None:
    first = await aiohttp_client(create_app(fast_settings))
    second = await aiohttp_client(create_app(fast_settings))
    await first.get("/healthz")
    one, two = await scrape(first), await scrape(second)
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(one, "paylive_http_requests_total", **healthz) == 1
    assert value(two, "paylive_http_requests_total", **healthz) is None


# webhooks --------------------------------------------------------------------------------


async def test_webhook_counters(client: Client) -> None:
    event = make_event("payment_intent.succeeded", intent("pi_not_ours", "succeeded"))
    assert (await post_event(client, event))[1]["outcome"] == "not_ours"
    assert (await post_event(client, event))[1]["outcome"] == "duplicate"
    status, _ = await post_event(client, event, secret="whsec_someone_else_entirely")
    assert status == 400
    other = make_event("balance.available", {"object": "balance"})
    assert (await post_event(client, other))[1]["outcome"] == "ignored"

    samples = await scrape(client)
    received = "paylive_webhook_events_received_total"
    assert value(samples, received, type="payment_intent.succeeded") == 2
    assert value(samples, received, type="balance.available") == 1
    outcomes = "paylive_webhook_outcomes_total"
    assert value(samples, outcomes, outcome="not_ours") == 1
    assert value(samples, outcomes, outcome="duplicate") == 1
    assert value(samples, outcomes, outcome="bad_signature") == 1
    assert value(samples, outcomes, outcome="ignored") == 1
    requests = "paylive_http_requests_total"
    hook = {"method": "POST", "route": "/webhooks/stripe"}
    assert value(samples, requests, status="200", **hook) == 3
    assert value(samples, requests, status="400", **hook) == 1
    assert value(samples, "paylive_webhook_processing_seconds_count") is not None


def test_webhook_processing_time_and_stripe_calls_observed() -> None:
    stats = ReconcileStats()
    metrics = Metrics(webhooks=WebhookStats(), reconcile=stats, realtime=lambda: None)
    metrics.observe_webhook(0.004)
    metrics.observe_webhook(0.2)
    metrics.observe_stripe_call("payment_intents.create", 0.03, "ok")
    metrics.observe_stripe_call("payment_intents.create", 0.07, "ok")
    metrics.observe_stripe_call("refunds.create", 1.5, "GatewayInvalidRequest")
    samples = parse(generate_latest(metrics.registry).decode())
    assert value(samples, "paylive_webhook_processing_seconds_count") == 2
    assert value(samples, "paylive_webhook_processing_seconds_bucket", le="0.005") == 1
    assert value(samples, "paylive_webhook_processing_seconds_sum") == pytest.approx(0.204)
    create = {"operation": "payment_intents.create"}
    assert value(samples, "paylive_stripe_request_duration_seconds_count", **create) == 2
    assert (
        value(samples, "paylive_stripe_request_duration_seconds_bucket", le="0.05", **create) == 1
    )
    assert value(samples, "paylive_stripe_errors_total", **create, error="x") is None
    assert (
        value(
            samples,
            "paylive_stripe_errors_total",
            operation="refunds.create",
            error="GatewayInvalidRequest",
        )
        == 1
    )
    # No hub in this app: no live-status samples, and the scrape still works.
    assert value(samples, "paylive_ws_connections") is None


# live status -----------------------------------------------------------------------------


async def test_live_status_metrics(client: Client) -> None:
    store = client.app[STORE]
    payment = await add_payment(store)
    token = client.app[AUTH].issue_status_token(payment.id)
    async with client.ws_connect("/ws") as ws:
        await ws.send_json(
            {
                "type": "subscribe",
                "payment_id": str(payment.id),
                "token": token,
                "since_version": 0,
            }
        )
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        await change(store, payment, "processing")
        assert (await ws.receive_json(timeout=5))["type"] == "update"
        await until(lambda: len(client.app[HUB].stats.push_latency) >= 1)
        live = await scrape(client)
    assert value(live, "paylive_ws_connections") == 1
    assert value(live, "paylive_ws_subscriptions") == 1
    assert value(live, "paylive_ws_messages_sent_total") == 2
    assert value(live, "paylive_ws_slow_closes_total") == 0
    assert value(live, "paylive_listener_reconnects_total") == 0
    assert value(live, "paylive_ws_push_latency_window_pushes") == 1
    p99 = value(live, "paylive_ws_push_latency_seconds", quantile="0.99")
    assert p99 is not None
    assert 0 <= p99 < 5

    await until(lambda: client.app[HUB].stats.connections == 0)
    after = await scrape(client)
    assert value(after, "paylive_ws_connections") == 0
    assert value(after, "paylive_ws_subscriptions") == 0
    requests = "paylive_http_requests_total"
    assert value(after, requests, method="GET", route="/ws", status="101") == 1


# reconciliation --------------------------------------------------------------------------


async def test_reconciliation_metrics(
    aiohttp_client: AiohttpClient, database_url: str, emulator: RunningEmulator
) -> None:
    settings = make_settings(database_url, stripe_api_base=emulator.url)
    client = await aiohttp_client(create_app(settings))
    response = await client.post(
        "/api/payment-intents",
        json={"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd"},
        headers=API,
    )
    created = await response.json()
    assert response.status == 201, created
    status, _ = await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        f"payment_intents/{created['payment_intent_id']}/confirm",
        {"payment_method": "pm_card_visa"},
    )
    assert status == 200

    metrics = client.app[METRICS]
    worker = Reconciler(
        ReconcileStore(client.app[DB_POOL]),
        client.app[GATEWAY],
        reconcile_config(
            client.app[SETTINGS].model_copy(update={"reconcile_older_than_seconds": 0})
        ),
        metrics.reconcile,
    )
    before = datetime.now(UTC) - timedelta(seconds=1)
    report = await worker.round()
    assert report is not None
    assert report.corrected == 1
    samples = await scrape(client)
    assert value(samples, "paylive_reconcile_rounds_total") == 1
    assert value(samples, "paylive_reconcile_payments_checked_total") == report.checked
    assert value(samples, "paylive_reconcile_corrections_total", status="succeeded") == 1
    assert value(samples, "paylive_reconcile_events_backfilled_total") == report.events_backfilled
    assert value(samples, "paylive_reconcile_errors_total") == 0
    assert value(samples, "paylive_reconcile_failed_rounds_total") == 0
    # Stripe calls: observed once the gateway reports them (``on_call``, see the issue).
    creates = value(
        samples,
        "paylive_stripe_request_duration_seconds_count",
        operation="payment_intents.create",
    )
    if creates is not None:
        assert creates == 1
        retrieve = {"operation": "payment_intents.retrieve"}
        assert value(samples, "paylive_stripe_request_duration_seconds_count", **retrieve) == 1
        events = {"operation": "events.list"}
        assert value(samples, "paylive_stripe_request_duration_seconds_count", **events) == 1
    last = value(samples, "paylive_reconcile_last_success_timestamp_seconds")
    assert last is not None
    assert last >= before.timestamp()
