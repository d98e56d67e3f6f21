"""Operators' view of merchant notifications: list them with their attempts, retry one."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel

from service import errors
from service.db.notifications_repo import NotificationRecord, NotificationsStore, Status
from service.http import auth
from service.keys import AUTH, DB_POOL, DELIVERY

MAX_PAGE = 100


class NotificationAttemptOut(BaseModel):
    at: datetime
    http_status: int | None
    error: str | None
    duration_ms: float


class NotificationOut(BaseModel):
    id: int
    webhook_id: str
    endpoint_url: str
    endpoint_disabled: bool
    payment_id: str
    version: int
    type: str
    status: Literal["pending", "delivered", "failed"]
    next_attempt_at: datetime | None  # pending only
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[NotificationAttemptOut]


class NotificationListOut(BaseModel):
    data: list[NotificationOut]


def notification_out(n: NotificationRecord) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        webhook_id=n.webhook_id,
        endpoint_url=n.endpoint_url,
        endpoint_disabled=n.endpoint_disabled,
        payment_id=str(n.payment_id),
        version=n.version,
        type=n.type,
        status=n.status,
        next_attempt_at=n.next_attempt_at if n.status == "pending" else None,
        last_error=n.last_error,
        created_at=n.created_at,
        finished_at=n.finished_at,
        attempts=[
            NotificationAttemptOut(
                at=a.attempted_at,
                http_status=a.http_status,
                error=a.error,
                duration_ms=round(a.duration_ms, 3),
            )
            for a in n.attempts
        ],
    )


def _invalid(name: str, message: str) -> errors.InvalidInput:
    return errors.InvalidInput(message, code="invalid_query", details={"field": name})


def _query(request: web.Request) -> tuple[UUID | None, Status | None, int]:
    raw_payment = request.query.get("payment_id")
    raw_status = request.query.get("status")
    raw_limit = request.query.get("limit", "50")
    try:
        payment_id = UUID(raw_payment) if raw_payment is not None else None
    except ValueError:
        raise _invalid("payment_id", "payment_id must be a payment id (a UUID).") from None
    if raw_status is not None and raw_status not in get_args(Status):
        raise _invalid("status", "status must be pending, delivered or failed.")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise _invalid("limit", f"limit must be an integer from 1 to {MAX_PAGE}.")
    status: Status | None = raw_status  # type: ignore[assignment]  # checked above
    return payment_id, status, int(raw_limit)


async def list_notifications(request: web.Request) -> web.Response:
    auth.require_api_key(request, request.app[AUTH])
    payment_id, status, limit = _query(request)
    found = await NotificationsStore(request.app[DB_POOL]).list(payment_id, status, limit)
    body = NotificationListOut(data=[notification_out(n) for n in found])
    return web.json_response(text=body.model_dump_json())


async def retry_notification(request: web.Request) -> web.Response:
    auth.require_api_key(request, request.app[AUTH])
    raw = request.match_info["notification_id"]
    if not raw.isdigit() or int(raw) >= 2**63:
        raise errors.NotFound("No such notification.", code="notification_not_found")
    retried = await NotificationsStore(request.app[DB_POOL]).retry(int(raw))
    if retried is None:
        raise errors.NotFound("No such notification.", code="notification_not_found")
    if DELIVERY in request.app:
        request.app[DELIVERY].nudge()
    return web.json_response(text=notification_out(retried).model_dump_json())
