"""No input reaches a 500: JSON nested absurdly deep, NUL characters and lone surrogates
in any string, Unicode digits where a number goes, undecodable header bytes. Each is a
clear 4xx, before it reaches the domain or PostgreSQL; a signed webhook that can never
apply is stored, acknowledged 200 and counted, so Stripe does not retry it for days."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.keys import AUTH, DB_POOL
from service.realtime.protocol import CLOSE_BAD_MESSAGE
from tests.support.settings import TEST_API_KEY
from tests.support.threaded_app import Served, service_in_thread
from tests.support.webhooks import intent, make_event, signed_headers

API: dict[str, str | bytes] = {
    "Authorization": f"Bearer {TEST_API_KEY}",
    "Content-Type": "application/json",
}
PAYMENT = "00000000-0000-4000-8000-000000000000"
POST_ROUTES = [
    "/api/payment-intents",
    "/api/checkout-sessions",
    f"/api/payments/{PAYMENT}/cancel",
    f"/api/payments/{PAYMENT}/refunds",
]
HYPOTHESIS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    with service_in_thread(database_url) as running:
        yield running


@pytest.fixture(scope="module")
def payment_id(served: Served) -> str:
    status, data = served.call("POST", "/api/payment-intents", _json(_create_body()), API)
    assert status == 201, data
    payment: str = data["payment_id"]
    return payment


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _create_body(**fields: Any) -> dict[str, Any]:
    return {"order_id": f"order-{uuid.uuid4()}", "amount": 2500, "currency": "usd", **fields}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates become \\udxxx


@pytest.mark.parametrize("route", POST_ROUTES)
def test_deep_json_body_is_422(served: Served, route: str) -> None:
    for body in (_deep(1000), '{"metadata": {"a": ' + _deep(1000) + "}}", _deep(30_000)):
        status, data = served.call("POST", route, body.encode(), API)
        assert status == 422, data
        assert data["error"]["code"] == "json_too_deep"


def test_deep_metadata_is_422(served: Served) -> None:
    for inner in (_deep(999), '{"a": ' * 999 + "1" + "}" * 999):
        body = '{"order_id": "o-1", "amount": 100, "currency": "usd", "metadata": {"a": '
        status, data = served.call(
            "POST", "/api/payment-intents", (body + inner + "}}").encode(), API
        )
        assert status == 422, data
        assert data["error"]["code"] == "json_too_deep"


def test_nesting_our_bodies_use_is_fine(served: Served) -> None:
    body = _create_body(customer={"external_id": "c-1"}, metadata={"seat": "[{[{"})
    status, data = served.call("POST", "/api/payment-intents", _json(body), API)
    assert status == 201, data


_BAD_CHAR = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"])
HOSTILE_TEXT = st.tuples(st.text(max_size=5), _BAD_CHAR, st.text(max_size=5)).map("".join)
FIELDS: list[Callable[[str], dict[str, Any]]] = [
    lambda s: _create_body(order_id=s),
    lambda s: _create_body(currency=s),
    lambda s: _create_body(description=s),
    lambda s: _create_body(metadata={"k": s}),
    lambda s: _create_body(metadata={s: "v"}),
    lambda s: _create_body(customer={"external_id": s}),
    lambda s: _create_body(customer={"external_id": "c", "name": s}),
    lambda s: _create_body(customer={"external_id": "c", "email": f"a{s}@b.example"}),
    lambda s: _create_body(payment_method_types=[s]),
    lambda s: {s: 1},
]


@HYPOTHESIS
@given(text=HOSTILE_TEXT, field=st.sampled_from(range(len(FIELDS))))
def test_unstorable_characters_are_422(served: Served, text: str, field: int) -> None:
    status, data = served.call("POST", "/api/payment-intents", _json(FIELDS[field](text)), API)
    assert status == 422, data
    assert data["error"]["code"] == "invalid_characters"


@HYPOTHESIS
@given(text=HOSTILE_TEXT)
def test_unstorable_characters_in_checkout_bodies_are_422(served: Served, text: str) -> None:
    body = _create_body(
        line_items=[{"name": text, "unit_amount": 100, "quantity": 1}],
        success_url="https://shop.example/ok",
        cancel_url="https://shop.example/no",
    )
    del body["amount"]
    status, data = served.call("POST", "/api/checkout-sessions", _json(body), API)
    assert status == 422, data
    assert data["error"]["code"] == "invalid_characters"


NON_ASCII_DIGITS = st.characters(categories=["Nd", "No"]).filter(lambda c: not c.isascii())


@HYPOTHESIS
@given(digit=NON_ASCII_DIGITS, prefix=st.sampled_from(["", "1", "0"]))
def test_unicode_digits_are_not_numbers(
    served: Served, payment_id: str, digit: str, prefix: str
) -> None:
    token = served.app[AUTH].issue_status_token(uuid.UUID(payment_id))
    number = quote(prefix + digit)
    targets: list[tuple[str, dict[str, str | bytes], str]] = [
        ("/api/payments?limit=" + number, API, "invalid_query"),
        (f"/api/payments/{payment_id}/timeline?since_version={number}", API, "invalid_query"),
        (f"/api/payments/{payment_id}/stream?since_version={number}", API, "invalid_since_version"),
        (
            f"/api/payments/{payment_id}/stream?token={token}",
            {"Last-Event-ID": (prefix + digit).encode()},
            "invalid_since_version",
        ),
    ]
    for target, headers, code in targets:
        status, data = served.call("GET", target, None, headers)
        assert status == 422, (target, data)
        assert data["error"]["code"] == code


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/api/payments?order_id=a%00b", API),
        ("/api/payments?cursor=%00", API),
        ("/api/payments", {"Authorization": b"Bearer \xff\xfe-not-utf-8"}),
        (f"/api/payments/{PAYMENT}", {"X-Status-Token": b"\xc3\x28"}),
        (f"/api/payments/{PAYMENT}?token=%00", {}),
    ],
)
def test_nul_and_undecodable_in_query_and_headers_are_400(
    served: Served, target: str, headers: dict[str, str | bytes]
) -> None:
    status, data = served.call("GET", target, None, headers)
    assert status == 400, data
    assert data["error"]["code"] == "invalid_characters"


def test_undecodable_order_token_is_400(served: Served) -> None:
    headers: dict[str, str | bytes] = {
        "X-Order-Token": b"\xff.\xfe.\xfd",
        "Content-Type": "application/json",
    }
    status, data = served.call("POST", "/api/payment-intents", _json(_create_body()), headers)
    assert status == 400, data


def test_deep_websocket_message_closes_with_4400(served: Served) -> None:
    async def go() -> tuple[int | None, str]:
        async with aiohttp.ClientSession() as session, session.ws_connect(served.url + "/ws") as ws:
            await ws.send_str('{"type": "subscribe", "payment_id": ' + _deep(1000) + "}")
            error = await ws.receive_json(timeout=5)
            await ws.receive(timeout=5)
            return ws.close_code, error["code"]

    assert served.run(go()) == (CLOSE_BAD_MESSAGE, "bad_message")


# --- webhooks: signed, but never applicable ---------------------------------------------


def _signed(body: bytes) -> dict[str, str | bytes]:
    return dict(signed_headers(body.decode("utf-8")))


def _event_body(**changes: Any) -> str:
    event = make_event("payment_intent.succeeded", intent("pi_hostile", "succeeded"))
    event.update(changes)
    return json.dumps(event)


UNSTORABLE_BODIES = {
    "deep": '{"id": "evt_deep", "type": "x", "data": ' + _deep(5000) + "}",
    "deep_metadata": _event_body().replace('"metadata": {}', '"metadata": ' + _deep(1000)),
    "nul": _event_body(id=f"evt_nul_{uuid.uuid4().hex}", note="a\u0000b"),
    "surrogate": _event_body(id=f"evt_sur_{uuid.uuid4().hex}", note="\ud800"),
    "nul_in_id": _event_body(id="evt_\u0000"),
    "created": _event_body(id=f"evt_created_{uuid.uuid4().hex}", created=10**12),
    "negative_created": _event_body(id=f"evt_neg_{uuid.uuid4().hex}", created=-(10**15)),
}


@pytest.mark.parametrize("name", sorted(UNSTORABLE_BODIES))
def test_unstorable_signed_webhooks_are_kept_and_acknowledged(served: Served, name: str) -> None:
    body = UNSTORABLE_BODIES[name].encode()
    before = _outcome_count(served, "unstorable")
    for _ in range(2):  # Stripe's redelivery is acknowledged the same way
        status, data = served.call("POST", "/webhooks/stripe", body, _signed(body))
        assert (status, data) == (200, {"received": True, "outcome": "unstorable"})
    assert _outcome_count(served, "unstorable") == before + 2
    rows = served.run(
        served.app[DB_POOL].fetch(
            "SELECT processed_at, last_error, payload FROM stripe_events"
            " WHERE payload ->> 'sha256' = encode(sha256($1::bytea), 'hex')",
            body,
        )
    )
    assert len(rows) == 1
    assert rows[0]["processed_at"] is not None
    assert rows[0]["last_error"] in {"json_too_deep", "invalid_characters", "created_out_of_range"}


def test_unsigned_hostile_webhooks_are_refused_unstored(served: Served) -> None:
    body = UNSTORABLE_BODIES["deep"].encode()
    headers: dict[str, str | bytes] = {"Stripe-Signature": f"t={int(time.time())},v1=00"}
    status, data = served.call("POST", "/webhooks/stripe", body, headers)
    assert status == 400
    assert data["error"]["code"] == "signature_invalid"


def _outcome_count(served: Served, outcome: str) -> float:
    status, raw = served.raw_call("GET", "/metrics")
    assert status == 200
    for line in raw.decode().splitlines():
        if line.startswith(f'paylive_webhook_outcomes_total{{outcome="{outcome}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
