"""Checkout Session webhooks: paid, paid asynchronously, expired, and expired in the order
the emulator emits."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.support.api import Client, create_checkout
from tests.support.deliveries import assert_consistent, deliver, read
from tests.support.emulator import RunningEmulator
from tests.support.webhooks import emulator_call


async def _pay_checkout(
    emulator: RunningEmulator, url: str, number: str, *, declined: bool = False
) -> None:
    """Pay on the hosted page; a decline shows the page again with a 402."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data={"number": number, "exp": "12/40", "cvc": "123", "email": "a@b.example"},
            allow_redirects=False,
        ) as response,
    ):
        if declined:
            assert response.status == 402
        else:
            assert response.status < 400


async def _checkout_events(emulator: RunningEmulator, data: dict[str, Any]) -> list[dict[str, Any]]:
    await emulator.handle.wait_idle()
    _, session = await emulator_call(
        emulator.url, emulator.secret_key, "GET", f"checkout/sessions/{data['checkout_session_id']}"
    )
    ids = {session["id"], session["payment_intent"]} - {None}  # no PaymentIntent if unpaid
    return [
        copy.deepcopy(e)
        for e in emulator.handle.events()
        if ids & {e["data"]["object"].get("id"), e["data"]["object"].get("payment_intent")}
    ]


async def test_checkout_paid(
    api: Client, emulator: RunningEmulator, db: asyncpg.Connection
) -> None:
    data = await create_checkout(api)
    await _pay_checkout(emulator, data["url"], "4242424242424242")
    events = await _checkout_events(emulator, data)
    assert "checkout.session.completed" in [e["type"] for e in events]
    completed = [e for e in events if e["type"] == "checkout.session.completed"]
    # The session alone is enough to know it is paid.
    assert (await deliver(api, completed)) == ["applied"]
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["amount_captured"]) == ("succeeded", 3000)
    await deliver(api, [e for e in events if e not in completed])
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["amount_captured"]) == ("succeeded", 3000)
    attempts = await read(api, data["payment_id"], "/attempts")
    assert [a["outcome"] for a in attempts] == ["succeeded"]
    await assert_consistent(db, data["payment_id"])


@pytest.mark.parametrize(
    ("number", "final", "async_type"),
    [
        ("4000000000008880", "succeeded", "checkout.session.async_payment_succeeded"),
        ("4000000000007775", "requires_payment_method", "checkout.session.async_payment_failed"),
    ],
)
async def test_checkout_async_payment(
    api: Client, emulator: RunningEmulator, number: str, final: str, async_type: str
) -> None:
    data = await create_checkout(api)
    await _pay_checkout(emulator, data["url"], number)
    events = await _checkout_events(emulator, data)
    by_type = {e["type"]: e for e in events}
    assert async_type in by_type
    await deliver(api, [by_type["checkout.session.completed"]])
    assert (await read(api, data["payment_id"]))["status"] == "processing"
    await deliver(api, [by_type[async_type]])
    payment = await read(api, data["payment_id"])
    assert payment["status"] == final
    if final == "succeeded":
        assert payment["amount_captured"] == 3000
    await deliver(api, events)
    assert (await read(api, data["payment_id"]))["status"] == final


async def test_checkout_expired(api: Client, emulator: RunningEmulator) -> None:
    data = await create_checkout(api)
    status, _ = await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        f"checkout/sessions/{data['checkout_session_id']}/expire",
    )
    assert status == 200
    events = await _checkout_events(emulator, data)
    [expired] = [e for e in events if e["type"] == "checkout.session.expired"]
    await deliver(api, [expired])
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["cancellation_reason"]) == ("canceled", "expired")
    await deliver(api, events)
    assert (await read(api, data["payment_id"]))["status"] == "canceled"


async def test_checkout_expired_in_emission_order(api: Client, emulator: RunningEmulator) -> None:
    """After a declined attempt the session has a PaymentIntent; expiring it cancels that
    first (payment_intent.canceled, reason abandoned, a final status): the payment still
    says why: the session expired."""
    data = await create_checkout(api)
    await _pay_checkout(emulator, data["url"], "4000000000000002", declined=True)
    await emulator_call(
        emulator.url,
        emulator.secret_key,
        "POST",
        f"checkout/sessions/{data['checkout_session_id']}/expire",
    )
    events = await _checkout_events(emulator, data)
    assert [e["type"] for e in events][-2:] == [
        "payment_intent.canceled",
        "checkout.session.expired",
    ]
    await deliver(api, events)
    payment = await read(api, data["payment_id"])
    assert (payment["status"], payment["cancellation_reason"]) == ("canceled", "expired")
