"""The events list: type filters, created ranges, pagination, retrieval."""

from __future__ import annotations

import time

import stripe

from .conftest import Running


async def _activity(client: stripe.StripeClient) -> None:
    await client.v1.customers.create_async({})
    await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )


async def test_list_newest_first_and_paginate(
    client: stripe.StripeClient, emulator: Running
) -> None:
    await _activity(client)
    everything = await client.v1.events.list_async()
    types = [e.type for e in everything.data]
    assert types == [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.created",
        "customer.created",
    ]
    first = await client.v1.events.list_async({"limit": 2})
    assert first.has_more is True
    second = await client.v1.events.list_async({"limit": 2, "starting_after": first.data[-1].id})
    assert [e.id for e in first.data + second.data] == [e.id for e in everything.data]
    assert second.has_more is False
    earlier = await client.v1.events.list_async({"ending_before": second.data[0].id, "limit": 1})
    assert [e.id for e in earlier.data] == [first.data[-1].id]
    assert everything.url == "/v1/events"


async def test_type_filters(client: stripe.StripeClient) -> None:
    await _activity(client)
    one = await client.v1.events.list_async({"type": "charge.succeeded"})
    assert [e.type for e in one.data] == ["charge.succeeded"]
    wildcard = await client.v1.events.list_async({"type": "payment_intent.*"})
    assert [e.type for e in wildcard.data] == ["payment_intent.succeeded", "payment_intent.created"]
    many = await client.v1.events.list_async({"types": ["customer.created", "charge.succeeded"]})
    assert [e.type for e in many.data] == ["charge.succeeded", "customer.created"]


async def test_created_filters(client: stripe.StripeClient) -> None:
    await _activity(client)
    now = int(time.time())
    assert len((await client.v1.events.list_async({"created": {"gte": now - 60}})).data) == 4
    assert (await client.v1.events.list_async({"created": {"gt": now + 1}})).data == []
    assert (await client.v1.events.list_async({"created": {"lt": now - 60}})).data == []
    assert len((await client.v1.events.list_async({"created": {"lte": now + 1}})).data) == 4


async def test_retrieve_event(client: stripe.StripeClient) -> None:
    await _activity(client)
    latest = (await client.v1.events.list_async({"limit": 1})).data[0]
    fetched = await client.v1.events.retrieve_async(latest.id)
    assert fetched.type == "payment_intent.succeeded"
    assert fetched.data.object["status"] == "succeeded"
    assert fetched.request is not None
    assert fetched.request.id is not None
