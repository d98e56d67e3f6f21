"""POST /webhooks/clerk: Svix signatures (the library's own signing), the inbox, ordering,
deletion, the push to the Stripe Customer, and 500-then-retry."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from svix.webhooks import Webhook as SvixWebhook

from service.app import create_app
from service.emulator.clerk.events import (
    body_of,
    deleted_event,
    event,
    new_message_id,
    svix_headers,
    user_object,
)
from service.keys import DB_POOL
from tests.identity.conftest import CLERK_SECRET as SECRET
from tests.identity.conftest import KEY, fresh_user
from tests.support.api import API, Client
from tests.support.emulator import RunningEmulator
from tests.support.session_keys import ISSUER, PARTY
from tests.support.settings import make_settings
from tests.support.webhooks import emulator_call


def user_event(
    user_id: str,
    email: str | None,
    first: str | None,
    last: str | None,
    updated_at: int,
    kind: str = "user.updated",
) -> dict[str, Any]:
    data = user_object(user_id, email, first, last, created_at=1, updated_at=updated_at)
    return event(kind, data, timestamp=updated_at)


def signed_by_svix(
    secret: str, message_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    """Headers as Svix sends Clerk's deliveries, signed by the svix library itself."""
    at = at or datetime.now(UTC)
    return {
        "svix-id": message_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": SvixWebhook(secret).sign(message_id, at, body),
        "Content-Type": "application/json",
    }


def test_the_clerk_stand_in_signs_exactly_as_svix_does() -> None:
    at = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    body = body_of(user_event("user_1", "a@example.com", "A", None, 5))
    assert svix_headers(SECRET, "msg_1", body, at) == signed_by_svix(SECRET, "msg_1", body, at)
    SvixWebhook(SECRET).verify(body, {**svix_headers(SECRET, "msg_1", body), "x": ""})


async def deliver(
    api: Client, payload: dict[str, Any], message_id: str | None = None, at: datetime | None = None
) -> tuple[int, dict[str, Any]]:
    body = body_of(payload)
    headers = signed_by_svix(SECRET, message_id or new_message_id(), body, at)
    response = await api.post("/webhooks/clerk", data=body, headers=headers)
    return response.status, await response.json()


async def me(api: Client, user_id: str) -> dict[str, Any]:
    token = KEY.token(sub=user_id, iss=ISSUER, azp=PARTY)
    response = await api.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def inbox_row(api: Client, message_id: str) -> Any:
    return await api.app[DB_POOL].fetchrow(
        "SELECT outcome, processed_at, failures, last_error FROM clerk_events WHERE svix_id = $1",
        message_id,
    )


async def test_created_user_becomes_the_customer(api: Client) -> None:
    user = fresh_user()
    status, body = await deliver(
        api, user_event(user, "ada@example.com", "Ada", "Lovelace", 100, "user.created")
    )
    assert (status, body) == (200, {"received": True, "outcome": "applied"})
    record = await me(api, user)
    assert record["synced"] is True
    assert (record["email"], record["first_name"], record["last_name"], record["name"]) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "Ada Lovelace",
    )


@pytest.mark.parametrize(
    "spoil",
    ["signature", "secret", "stale", "future", "missing-id"],
)
async def test_unsigned_or_stale_messages_are_refused_and_not_stored(
    api: Client, spoil: str
) -> None:
    user, message_id = fresh_user(), new_message_id()
    body = body_of(user_event(user, "x@example.com", "X", None, 5, "user.created"))
    at = datetime.now(UTC)
    if spoil == "stale":
        at -= timedelta(minutes=6)
    if spoil == "future":
        at += timedelta(minutes=6)
    other = "whsec_" + base64.b64encode(b"another-secret-entirely-0123456").decode()
    headers = signed_by_svix(other if spoil == "secret" else SECRET, message_id, body, at)
    if spoil == "signature":
        headers["svix-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    if spoil == "missing-id":
        del headers["svix-id"]
    response = await api.post("/webhooks/clerk", data=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "signature_invalid"
    assert await inbox_row(api, message_id) is None
    assert (await me(api, user))["synced"] is False


async def test_redelivery_changes_nothing(api: Client) -> None:
    user, message_id = fresh_user(), new_message_id()
    payload = user_event(user, "first@example.com", "First", None, 10, "user.created")
    assert (await deliver(api, payload, message_id))[1]["outcome"] == "applied"
    assert (await deliver(api, payload, message_id))[1]["outcome"] == "duplicate"
    row = await inbox_row(api, message_id)
    assert (row["outcome"], row["failures"]) == ("applied", 0)


async def test_an_older_update_never_overwrites_a_newer_one(api: Client) -> None:
    user = fresh_user()
    assert (await deliver(api, user_event(user, "new@example.com", "New", None, 200)))[1][
        "outcome"
    ] == "applied"
    _, body = await deliver(api, user_event(user, "old@example.com", "Old", None, 100))
    assert body["outcome"] == "stale"
    _, body = await deliver(api, user_event(user, "same@example.com", "Same", None, 200))
    assert body["outcome"] == "stale"
    assert (await me(api, user))["email"] == "new@example.com"


async def test_other_event_types_are_stored_and_ignored(api: Client) -> None:
    message_id = new_message_id()
    payload = event("session.created", {"id": "sess_1", "user_id": "user_x"}, timestamp=1)
    assert await deliver(api, payload, message_id) == (
        200,
        {"received": True, "outcome": "ignored"},
    )
    assert (await inbox_row(api, message_id))["outcome"] == "ignored"
    bad = event("user.updated", {"id": fresh_user(), "object": "user"}, timestamp=1)
    assert (await deliver(api, bad))[1]["outcome"] == "invalid"  # no updated_at: never appliable


async def _customer_with_stripe(api: Client, user: str) -> tuple[str, str]:
    """A payment for `user` made by the backend (so the customer has a Stripe Customer)."""
    body = {
        "order_id": f"order-{uuid.uuid4()}",
        "amount": 1500,
        "currency": "eur",
        "customer": {"external_id": user},
    }
    response = await api.post("/api/payment-intents", json=body, headers=API)
    assert response.status == 201
    payment_id = (await response.json())["payment_id"]
    stripe_id = await api.app[DB_POOL].fetchval(
        "SELECT stripe_customer_id FROM customers WHERE external_id = $1", user
    )
    assert stripe_id
    return payment_id, stripe_id


async def test_changes_reach_the_stripe_customer(api: Client, emulator: RunningEmulator) -> None:
    user = fresh_user()
    await deliver(api, user_event(user, "grace@example.com", "Grace", "Hopper", 1, "user.created"))
    _, stripe_id = await _customer_with_stripe(api, user)
    await deliver(api, user_event(user, "admiral@example.com", "Grace", "Hopper", 2))
    _, customer = await emulator_call(
        emulator.url, emulator.secret_key, "GET", f"customers/{stripe_id}"
    )
    assert (customer["email"], customer["name"]) == ("admiral@example.com", "Grace Hopper")


async def test_deletion_erases_personal_data_and_keeps_payments(
    api: Client, emulator: RunningEmulator
) -> None:
    user = fresh_user()
    await deliver(api, user_event(user, "gone@example.com", "Gone", "Soon", 1, "user.created"))
    payment_id, stripe_id = await _customer_with_stripe(api, user)
    status, body = await deliver(api, deleted_event(user, timestamp=int(time.time() * 1000)))
    assert (status, body["outcome"]) == (200, "applied")
    record = await me(api, user)
    assert record["deleted"] is True
    assert [record[k] for k in ("email", "first_name", "last_name", "name")] == [None] * 4
    row = await api.app[DB_POOL].fetchrow(
        "SELECT id, amount FROM payments WHERE id = $1::uuid", payment_id
    )
    assert row["amount"] == 1500  # the money record stays
    _, customer = await emulator_call(
        emulator.url, emulator.secret_key, "GET", f"customers/{stripe_id}"
    )
    assert (customer["email"], customer["name"]) == (None, None)
    # A late update never brings the data back; a second deletion changes nothing.
    assert (await deliver(api, user_event(user, "back@example.com", "Back", None, 99)))[1][
        "outcome"
    ] == "stale"
    assert (await deliver(api, deleted_event(user, timestamp=1)))[1]["outcome"] == "unchanged"
    assert (await me(api, user))["email"] is None


async def test_a_failure_answers_500_rolls_back_and_the_retry_applies(
    api: Client, emulator: RunningEmulator
) -> None:
    user = fresh_user()
    await deliver(api, user_event(user, "one@example.com", "One", None, 1, "user.created"))
    _, stripe_id = await _customer_with_stripe(api, user)
    pool = api.app[DB_POOL]
    # The Stripe Customer cannot be found: the push fails, so the whole message does.
    await pool.execute(
        "UPDATE customers SET stripe_customer_id = 'cus_missing' WHERE external_id = $1", user
    )
    message_id = new_message_id()
    payload = user_event(user, "two@example.com", "Two", None, 2)
    status, body = await deliver(api, payload, message_id)
    assert status == 500
    assert body["error"]["code"] == "webhook_failed"
    row = await inbox_row(api, message_id)
    assert row["processed_at"] is None
    assert row["failures"] == 1
    assert (await me(api, user))["email"] == "one@example.com"  # rolled back
    await pool.execute(
        "UPDATE customers SET stripe_customer_id = $2 WHERE external_id = $1", user, stripe_id
    )
    assert await deliver(api, payload, message_id) == (
        200,
        {"received": True, "outcome": "applied"},
    )
    row = await inbox_row(api, message_id)
    assert row["processed_at"] is not None
    assert row["last_error"] is None
    assert (await me(api, user))["email"] == "two@example.com"


async def test_without_a_signing_secret_the_endpoint_is_off(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    client = await aiohttp_client(create_app(make_settings(database_url)))
    response = await client.post("/webhooks/clerk", data=b"{}")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "clerk_webhooks_disabled"
