"""GET /api/me/payments: newest first, keyset pages, checked limits and cursors, paid
time and refunds; and the cursor's round trip as a property."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service import errors
from service.http.me import make_cursor, parse_cursor, parse_limit
from tests.identity.conftest import add_customer_payment, fresh_user, session, store_of
from tests.support.api import Client
from tests.support.payments import change


async def test_pages_newest_first_with_paid_time_and_refunds(api: Client) -> None:
    user = fresh_user()
    store = store_of(api)
    made = [await add_customer_payment(store, user, amount=1000 + n) for n in range(5)]
    paid = await change(store, made[1], "succeeded")
    async with store.transaction() as tx:
        await tx.add_refund(uuid.uuid4(), paid, 300, "requested_by_customer")
    await add_customer_payment(store, fresh_user())  # someone else's: never listed

    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await api.get("/api/me/payments", params=params, headers=session(user))
        assert response.status == 200
        body = await response.json()
        seen += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        assert body["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert pages == 3
    assert [p["payment_id"] for p in seen] == [str(p.id) for p in reversed(made)]
    by_id = {p["payment_id"]: p for p in seen}
    paid_out = by_id[str(paid.id)]
    assert paid_out["status"] == "succeeded"
    assert paid_out["paid_at"] is not None
    assert [(r["amount"], r["status"]) for r in paid_out["refunds"]] == [(300, "pending")]
    open_out = by_id[str(made[0].id)]
    assert (open_out["paid_at"], open_out["refunds"], open_out["amount"]) == (None, [], 1000)
    assert open_out["order_id"] == made[0].order_id


async def test_a_user_without_a_customer_has_no_payments(api: Client) -> None:
    response = await api.get("/api/me/payments", headers=session(fresh_user()))
    assert await response.json() == {"data": [], "has_more": False, "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "٣"}, "limit"),  # Arabic-Indic three: a digit to str.isdigit, not to us
        ({"limit": "²"}, "limit"),
        ({"limit": " 5"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "é"}, "cursor"),
        ({"cursor": "x" * 300}, "cursor"),
    ],
)
async def test_bad_queries_are_422(api: Client, query: dict[str, str], field: str) -> None:
    response = await api.get("/api/me/payments", params=query, headers=session(fresh_user()))
    assert response.status == 422
    body = await response.json()
    assert body["error"]["details"]["field"] == field


async def test_needs_a_session(api: Client) -> None:
    response = await api.get("/api/me/payments")
    assert response.status == 401


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.uuids(),
)
def test_cursor_round_trip(at: datetime, payment_id: uuid.UUID) -> None:
    assert parse_cursor(make_cursor(at, payment_id)) == (at, payment_id)


@given(st.text(max_size=50))
def test_any_text_is_a_cursor_or_a_clear_error(raw: str) -> None:
    try:
        at, _ = parse_cursor(raw)
    except errors.InvalidInput as exc:
        code = exc.code
    else:
        code = "ok"
        assert at.utcoffset() is not None
    assert code in ("ok", "invalid_cursor")


@given(st.text(max_size=6))
def test_limit_is_ascii_digits_in_range_or_a_clear_error(raw: str) -> None:
    try:
        limit = parse_limit(raw)
    except errors.InvalidInput as exc:
        code = exc.code
    else:
        code = "ok"
        assert raw.isascii()
        assert raw.isdigit()
        assert 1 <= limit <= 100
    assert code in ("ok", "invalid_query")


def test_a_naive_timestamp_cursor_is_refused() -> None:
    naive = make_cursor(datetime(2026, 1, 1) + timedelta(0), uuid.uuid4())
    with pytest.raises(errors.InvalidInput):
        parse_cursor(naive)
