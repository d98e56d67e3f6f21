"""Every route the app serves (walked from its router, so a new route is fuzzed too)
gets hostile bodies, query strings and headers: no answer is a 5xx.

Bounded: 20 examples, each calling every route. Hypothesis shrinks any 5xx to a small example.
Stripe's events are fuzzed only unsigned here (the signed edge cases are in
test_hostile_input): what a signed event means is the event domain's to test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.keys import AUTH
from tests.support.settings import TEST_API_KEY
from tests.support.threaded_app import Served, service_in_thread

EXAMPLES = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Text with what breaks naive code: NUL, lone surrogates, Unicode digits, bidi, huge ints.
NASTY = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "²", "①", "٣", "\u202e", "-1", "1e309", "9" * 40, "%", "..", ""]
)
TEXT = st.one_of(st.text(max_size=30), NASTY, st.tuples(st.text(max_size=5), NASTY).map("".join))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=20,
)
KNOWN_FIELDS = [
    "order_id", "booking_id", "amount", "currency", "customer", "metadata", "description",
    "line_items", "success_url", "cancel_url", "expires_in_minutes", "capture_method",
    "payment_method_types", "reason",
]  # fmt: skip


def _quote(text: str) -> str:
    """Percent-encoded as its UTF-8 bytes, lone surrogates included."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _deep(levels: int) -> bytes:
    return b'{"metadata": ' + b"[" * levels + b"]" * levels + b"}"


BODIES = st.one_of(
    st.dictionaries(st.sampled_from(KNOWN_FIELDS), JSON, max_size=8).map(
        lambda d: json.dumps(d).encode()
    ),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.integers(min_value=65, max_value=3000).map(_deep),
    st.just(b'{"amount": 1, "amount": "2"}'),
)
QUERY_NAMES = st.sampled_from(["limit", "cursor", "order_id", "since_version", "token", "x"])
HEADER_VALUE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")),
)
HEADER_NAMES = st.sampled_from(
    [
        "Authorization", "X-Status-Token", "X-Order-Token", "Last-Event-ID", "Idempotency-Key",
        "Origin", "Content-Type", "X-Request-ID", "Stripe-Signature", "Accept",
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    with service_in_thread(
        database_url,
        order_token_secret="order-token-secret-0123456789abcdef0123",
        demo_page=True,
        stripe_publishable_key="pk_test_paylive_emulator",
    ) as running:
        yield running


def _routes(served: Served) -> list[tuple[str, str]]:
    """(method, path template) of every route; a static folder as its prefix + a name."""
    found = []
    for resource in served.app.router.resources():
        info = resource.get_info()
        template = info.get("formatter") or info.get("path") or info.get("prefix", "") + "/{name}"
        for route in resource:
            if route.method not in ("*", "HEAD"):
                found.append((route.method, str(template)))
    return sorted(set(found))


def test_the_walk_finds_every_route(served: Served) -> None:
    routes = _routes(served)
    assert ("POST", "/api/payment-intents") in routes
    assert ("GET", "/api/payments/{payment_id}/stream") in routes
    assert ("POST", "/webhooks/stripe") in routes
    assert ("GET", "/ws") in routes
    assert len(routes) >= 15


@pytest.fixture(scope="module")
def real_payment(served: Served) -> str:
    body = json.dumps({"order_id": f"o-{uuid.uuid4()}", "amount": 700, "currency": "eur"})
    status, data = served.call(
        "POST",
        "/api/payment-intents",
        body.encode(),
        {"Authorization": f"Bearer {TEST_API_KEY}", "Content-Type": "application/json"},
    )
    assert status == 201, data
    payment_id: str = data["payment_id"]
    return payment_id


@EXAMPLES
@given(data=st.data())
def test_no_route_answers_5xx(served: Served, real_payment: str, data: st.DataObject) -> None:
    for method, template in _routes(served):
        payment_id = real_payment
        segment = data.draw(
            st.one_of(st.just(payment_id), st.uuids().map(str), TEXT.map(_quote)),
            label="segment",
        )
        path = template.replace("{payment_id}", segment).replace("{name}", segment)
        query = data.draw(st.dictionaries(QUERY_NAMES, TEXT, max_size=3), label="query")
        pairs = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query.items())
        target = f"{path}?{pairs}" if pairs else path
        headers: dict[str, str | bytes] = dict(
            data.draw(st.dictionaries(HEADER_NAMES, HEADER_VALUE, max_size=4), label="headers")
        )
        credential = data.draw(st.sampled_from(["none", "api", "status", "garbage"]))
        if credential == "api":
            headers["Authorization"] = f"Bearer {TEST_API_KEY}"
        elif credential == "status":
            headers["X-Status-Token"] = served.app[AUTH].issue_status_token(uuid.UUID(payment_id))
        body = data.draw(BODIES, label="body") if method == "POST" else None
        status, answer = served.call(method, target, body, headers)
        assert status < 500, (method, target, headers, body, answer)
