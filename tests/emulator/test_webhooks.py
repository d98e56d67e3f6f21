"""Signed webhook delivery: signatures, retries, duplicates, shuffling, delay, endpoints."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import stripe
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.emulator.webhooks import sign

from .conftest import Receiver, Running, ServerFactory


async def _pay(client: stripe.StripeClient, n: int = 1) -> list[str]:
    ids = []
    for _ in range(n):
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
        )
        ids.append(pi.id)
    return ids


def test_sign_matches_stripe_verification() -> None:
    payload = '{"id": "evt_1"}'
    header = sign(payload, "whsec_abc", int(time.time()))
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_abc", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)
    old = sign(payload, "whsec_abc", int(time.time()) - 1000)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, old, "whsec_abc", tolerance=300)


async def test_every_delivery_verifies_and_carries_event_fields(
    client: stripe.StripeClient, emulator: Running
) -> None:
    await _pay(client)
    await emulator.handle.wait_idle()
    rec = emulator.receiver
    assert rec.rejected == 0
    assert len(rec.events) == 3
    for event in rec.events:
        assert event["id"].startswith("evt_")
        assert event["object"] == "event"
        assert event["livemode"] is False
        assert event["api_version"] == emulator.handle.config.api_version
        assert isinstance(event["created"], int)
        assert event["pending_webhooks"] == 1
        assert event["request"]["id"].startswith("req_")
        assert "idempotency_key" in event["request"]
    assert all(a.ok for a in emulator.handle.deliveries)
    stored = await client.v1.events.retrieve_async(rec.events[0]["id"])
    assert stored.pending_webhooks == 0


async def test_event_data_is_a_snapshot(client: stripe.StripeClient, emulator: Running) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    await client.v1.payment_intents.update_async(pi.id, {"metadata": {"later": "yes"}})
    await emulator.handle.wait_idle()
    created = emulator.receiver.events[0]
    assert created["type"] == "payment_intent.created"
    assert created["data"]["object"]["metadata"] == {}


async def test_retries_after_500_with_backoff(
    client: stripe.StripeClient, emulator: Running
) -> None:
    emulator.receiver.fail_first = 2
    await _pay(client, 1)
    await emulator.handle.wait_idle()
    attempts = emulator.handle.deliveries
    assert [a.status for a in attempts].count(500) == 2
    assert sorted(e["type"] for e in emulator.receiver.events) == sorted(
        ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    )
    for event_id in {a.event_id for a in attempts if a.status == 500}:
        tries = [a for a in attempts if a.event_id == event_id]
        assert [a.attempt for a in tries] == list(range(1, len(tries) + 1))
        assert tries[-1].ok


async def test_gives_up_after_max_attempts(client: stripe.StripeClient, emulator: Running) -> None:
    emulator.receiver.fail_first = 1000
    emulator.handle.knobs.max_attempts = 3
    emulator.handle.knobs.retry_base = 0.1
    await client.v1.customers.create_async({})
    await emulator.handle.wait_idle()
    attempts = emulator.handle.deliveries
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status == 500 for a in attempts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert gaps[1] > gaps[0]  # exponential backoff
    assert emulator.handle.delivered_events == []


async def test_timeout_is_retried(
    aiohttp_server: ServerFactory, client: stripe.StripeClient, emulator: Running
) -> None:
    calls: list[float] = []

    async def slow_then_ok(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            await asyncio.sleep(0.6)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", slow_then_ok)
    server: TestServer = await aiohttp_server(app)
    await client.v1.webhook_endpoints.create_async(
        {"url": str(server.make_url("/hook")), "enabled_events": ["customer.created"]}
    )
    emulator.handle.knobs.timeout = 0.2
    await client.v1.customers.create_async({})
    await emulator.handle.wait_idle()
    mine = [a for a in emulator.handle.deliveries if a.url.endswith("/hook")]
    assert [a.status for a in mine] == [None, 200]
    assert mine[0].error is not None
    assert "Timeout" in mine[0].error


async def test_duplicate_knob(client: stripe.StripeClient, emulator: Running) -> None:
    emulator.handle.knobs.duplicate = True
    await _pay(client)
    await emulator.handle.wait_idle()
    ids = [e["id"] for e in emulator.receiver.events]
    assert len(ids) == 6
    assert len(set(ids)) == 3


async def test_shuffle_knob_reorders(client: stripe.StripeClient, emulator: Running) -> None:
    emulator.handle.knobs.shuffle_window = 0.3
    for _ in range(12):
        await client.v1.customers.create_async({})
    await emulator.handle.wait_idle()
    emitted = [e["id"] for e in emulator.handle.events()]
    received = [e["id"] for e in emulator.receiver.events]
    assert sorted(received) == sorted(emitted)
    assert received != emitted


async def test_delay_knob_does_not_block_the_api(
    client: stripe.StripeClient, emulator: Running
) -> None:
    emulator.handle.knobs.delay = 0.3
    started = time.monotonic()
    await client.v1.customers.create_async({})
    assert time.monotonic() - started < 0.25
    assert emulator.receiver.events == []
    await emulator.handle.wait_idle()
    assert len(emulator.receiver.events) == 1


async def test_webhook_endpoints_lifecycle(
    aiohttp_server: ServerFactory, client: stripe.StripeClient, emulator: Running
) -> None:
    second = Receiver()
    app = web.Application()
    app.router.add_post("/hook", second.handle)
    server: TestServer = await aiohttp_server(app)
    endpoint = await client.v1.webhook_endpoints.create_async(
        {"url": str(server.make_url("/hook")), "enabled_events": ["payment_intent.succeeded"]}
    )
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.status == "enabled"
    second.secret = endpoint.secret
    listed = await client.v1.webhook_endpoints.list_async()
    assert [e.id for e in listed.data] == [endpoint.id]
    assert "secret" not in listed.data[0]
    await _pay(client)
    await emulator.handle.wait_idle()
    assert second.types() == ["payment_intent.succeeded"]
    assert second.rejected == 0
    assert len(emulator.receiver.events) == 3  # the configured endpoint gets everything
    deleted = await client.v1.webhook_endpoints.delete_async(endpoint.id)
    assert deleted.deleted is True
    await _pay(client)
    await emulator.handle.wait_idle()
    assert second.types() == ["payment_intent.succeeded"]
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.webhook_endpoints.retrieve_async(endpoint.id)


async def test_in_order_without_knobs(client: stripe.StripeClient, emulator: Running) -> None:
    for _ in range(10):
        await client.v1.customers.create_async({})
    await emulator.handle.wait_idle()
    assert [e["id"] for e in emulator.receiver.events] == [
        e["id"] for e in emulator.handle.events()
    ]


async def test_background_failures_surface_in_wait_idle(emulator: Running) -> None:
    async def broken() -> None:
        raise ValueError("boom")

    emulator.handle.spawn(broken())
    with pytest.raises(RuntimeError) as caught:
        await emulator.handle.wait_idle()
    assert isinstance(caught.value.__cause__, ValueError)
    emulator.handle.background_errors.clear()


async def test_configured_endpoint_event_filter(
    client: stripe.StripeClient, emulator: Running
) -> None:
    emulator.handle.config.webhook_events = ["payment_intent.succeeded"]
    await _pay(client)
    await emulator.handle.wait_idle()
    assert emulator.receiver.types() == ["payment_intent.succeeded"]
    assert len(emulator.handle.events()) == 3
