"""Session tokens at the HTTP edge: /api/me, reading and following one's own payments
(REST, SSE, WebSocket), never another customer's, and creation bound to oneself."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from aiohttp import WSMsgType

from service.keys import AUTH
from service.tokens import issue_order_token
from tests.identity.conftest import (
    KEY,
    ORDER_SECRET,
    add_customer_payment,
    fresh_user,
    session,
    store_of,
)
from tests.support.api import API, Client
from tests.support.session_keys import ISSUER, PARTY, SigningKey, unsigned_token


async def error_code(response: Any) -> str:
    body = await response.json()
    return str(body["error"]["code"])


async def test_me_needs_a_session(api: Client) -> None:
    response = await api.get("/api/me")
    assert response.status == 401
    assert await error_code(response) == "session_token_required"
    response = await api.get("/api/me", headers=API)  # an API key is not a user
    assert response.status == 401


async def test_me_by_bearer_and_by_cookie(api: Client) -> None:
    response = await api.get("/api/me", headers=session("user_alice"))
    assert response.status == 200
    body = await response.json()
    assert body["external_id"] == "user_alice"
    assert body["synced"] is False
    token = KEY.token(sub="user_alice", iss=ISSUER, azp=PARTY)
    response = await api.get("/api/me", cookies={"__session": token})
    assert response.status == 200
    assert (await response.json())["external_id"] == "user_alice"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (
            lambda: unsigned_token({"alg": "none"}, {"sub": "u", "exp": time.time() + 60}),
            "session_token_algorithm_not_allowed",
        ),
        (
            lambda: unsigned_token(
                {"alg": "HS256", "kid": "kid-1"},
                {"sub": "u", "iss": ISSUER, "azp": PARTY, "exp": int(time.time()) + 60},
                KEY.public_pem().encode(),
            ),
            "session_token_algorithm_not_allowed",
        ),
        (
            lambda: SigningKey.rsa("kid-unknown").token(sub="u", iss=ISSUER, azp=PARTY),
            "session_token_unknown_key",
        ),
        (
            lambda: KEY.token(sub="u", iss="https://clerk.other.example", azp=PARTY),
            "session_token_wrong_issuer",
        ),
        (
            lambda: KEY.token(sub="u", iss=ISSUER, azp="https://other.example"),
            "session_token_wrong_party",
        ),
        (
            lambda: KEY.token(sub="u", iss=ISSUER, azp=PARTY, exp=int(time.time()) - 60),
            "session_token_expired",
        ),
    ],
    ids=["alg-none", "hs256-public-key", "unknown-kid", "issuer", "party", "expired"],
)
async def test_refusals_are_401_with_a_clear_code(api: Client, token: Any, code: str) -> None:
    response = await api.get("/api/me", headers={"Authorization": f"Bearer {token()}"})
    assert response.status == 401
    assert await error_code(response) == code


async def test_own_payment_readable_another_customers_forbidden(api: Client) -> None:
    payment = await add_customer_payment(store_of(api), "user_alice")
    url = f"/api/payments/{payment.id}"
    alice = KEY.token(sub="user_alice", iss=ISSUER, azp=PARTY)
    for kwargs in (
        {"headers": session("user_alice")},
        {"cookies": {"__session": alice}},
        {"params": {"token": alice}},
        {"headers": {"X-Status-Token": alice}},
    ):
        response = await api.get(url, **kwargs)  # type: ignore[arg-type]
        assert response.status == 200, kwargs
        assert (await response.json())["payment_id"] == str(payment.id)
    for path in ("", "/attempts", "/timeline"):
        response = await api.get(url + path, headers=session("user_bob"))
        assert response.status == 403
        assert await error_code(response) == "payment_of_another_customer"


async def test_a_status_token_wins_over_a_foreign_session_cookie(api: Client) -> None:
    payment = await add_customer_payment(store_of(api), "user_alice")
    status_token = api.app[AUTH].issue_status_token(payment.id)
    bob = KEY.token(sub="user_bob", iss=ISSUER, azp=PARTY)
    response = await api.get(
        f"/api/payments/{payment.id}",
        headers={"X-Status-Token": status_token},
        cookies={"__session": bob},
    )
    assert response.status == 200
    response = await api.get(f"/api/payments/{payment.id}", cookies={"__session": bob})
    assert response.status == 403


async def test_sse_follows_own_payments_only(api: Client) -> None:
    payment = await add_customer_payment(store_of(api), "user_alice")
    url = f"/api/payments/{payment.id}/stream"
    response = await api.get(url, headers=session("user_bob"))
    assert response.status == 403
    async with api.get(url, headers=session("user_alice")) as stream:
        assert stream.status == 200
        first = await stream.content.readuntil(b"\n\n")
    assert first.startswith(b"event: snapshot\nid: 1\n")


async def test_websocket_subscribe_with_a_session_token(api: Client) -> None:
    mine = await add_customer_payment(store_of(api), "user_alice")
    theirs = await add_customer_payment(store_of(api), "user_bob")
    alice = KEY.token(sub="user_alice", iss=ISSUER, azp=PARTY)
    async with api.ws_connect("/ws") as ws:
        await ws.send_str(
            json.dumps({"type": "subscribe", "payment_id": str(mine.id), "token": alice})
        )
        message = json.loads((await ws.receive(timeout=5)).data)
        assert (message["type"], message["payment_id"]) == ("snapshot", str(mine.id))
        await ws.send_str(
            json.dumps({"type": "subscribe", "payment_id": str(theirs.id), "token": alice})
        )
        refusal = json.loads((await ws.receive(timeout=5)).data)
        assert refusal["type"] == "error"
        assert refusal["code"] == "payment_of_another_customer"
        closing = await ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE
        assert closing.data == 4001
    # The cookie of the upgrade request works when the message carries no token.
    async with api.ws_connect("/ws", headers={"Cookie": f"__session={alice}"}) as ws:
        await ws.send_str(json.dumps({"type": "subscribe", "payment_id": str(mine.id)}))
        message = json.loads((await ws.receive(timeout=5)).data)
        assert message["type"] == "snapshot"


def order_token(order_id: str, amount: int = 1999, currency: str = "eur") -> str:
    return issue_order_token(
        ORDER_SECRET.encode(), order_id, amount, currency, int(time.time()) + 300
    )


async def test_creation_is_bound_to_the_signed_in_customer(api: Client) -> None:
    alice, bob = fresh_user(), fresh_user()
    order_id = f"order-{uuid.uuid4()}"
    body: dict[str, Any] = {
        "order_id": order_id,
        "amount": 1999,
        "currency": "eur",
        "customer": {"external_id": alice, "email": "alice@example.com"},
    }
    headers = {**session(bob), "X-Order-Token": order_token(order_id)}
    response = await api.post("/api/payment-intents", json=body, headers=headers)
    assert response.status == 201, await response.text()
    created = await response.json()
    mine = await (await api.get("/api/me/payments", headers=session(bob))).json()
    assert [p["payment_id"] for p in mine["data"]] == [created["payment_id"]]
    alices = await (await api.get("/api/me/payments", headers=session(alice))).json()
    assert alices["data"] == []
    # Without an order token a session alone cannot create (the price is the backend's).
    body["order_id"] = f"order-{uuid.uuid4()}"
    response = await api.post("/api/payment-intents", json=body, headers=session(bob))
    assert response.status == 401


async def test_an_api_key_may_still_name_any_customer(api: Client) -> None:
    carol = fresh_user()
    body = {
        "order_id": f"order-{uuid.uuid4()}",
        "amount": 1999,
        "currency": "eur",
        "customer": {"external_id": carol},
    }
    response = await api.post("/api/payment-intents", json=body, headers=API)
    assert response.status == 201
    created = await response.json()
    carols = await (await api.get("/api/me/payments", headers=session(carol))).json()
    assert [p["payment_id"] for p in carols["data"]] == [created["payment_id"]]
