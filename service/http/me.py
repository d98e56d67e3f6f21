"""``GET /api/me`` and ``GET /api/me/payments``: the signed-in customer and their payments."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Final
from uuid import UUID

from aiohttp import web

from service import errors
from service.db.customers_repo import CustomersRepo
from service.http.identity_schemas import MyPaymentListOut, me_out, my_payment_out
from service.http.session_auth import require_user
from service.keys import DB_POOL

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
MAX_CURSOR_LENGTH: Final = 200


async def me(request: web.Request) -> web.Response:
    user = await require_user(request)
    async with request.app[DB_POOL].acquire() as conn:
        customer = await CustomersRepo(conn).customer_by_external_id(user.user_id)
    return web.json_response(text=me_out(user.user_id, customer).model_dump_json())


async def my_payments(request: web.Request) -> web.Response:
    user = await require_user(request)
    limit = parse_limit(request.query.get("limit"))
    raw_cursor = request.query.get("cursor")
    before = parse_cursor(raw_cursor) if raw_cursor else None
    async with request.app[DB_POOL].acquire() as conn:
        repo = CustomersRepo(conn)
        customer = await repo.customer_by_external_id(user.user_id)
        rows = (
            [] if customer is None else await repo.customer_payments(customer.id, limit + 1, before)
        )
    page, more = rows[:limit], len(rows) > limit
    body = MyPaymentListOut(
        data=[my_payment_out(p) for p in page],
        has_more=more,
        next_cursor=make_cursor(page[-1].created_at, page[-1].payment_id) if more else None,
    )
    return web.json_response(text=body.model_dump_json())


def parse_limit(raw: str | None) -> int:
    """1..100, written in ASCII digits only (``int()`` would also take "٣" or " 7")."""
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT):
        raise errors.InvalidInput(
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            code="invalid_query",
            details={"field": "limit"},
        )
    return int(raw)


def make_cursor(created_at: datetime, payment_id: UUID) -> str:
    text = f"{created_at.isoformat()}|{payment_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(raw: str) -> tuple[datetime, UUID]:
    bad = errors.InvalidInput(
        "The cursor is not valid.", code="invalid_cursor", details={"field": "cursor"}
    )
    if len(raw) > MAX_CURSOR_LENGTH or not raw.isascii():
        raise bad
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        at, sep, pid = text.partition("|")
        created_at, payment_id = datetime.fromisoformat(at), UUID(pid)
    except (ValueError, binascii.Error):
        raise bad from None
    if not sep or created_at.tzinfo is None:
        raise bad
    return created_at, payment_id
