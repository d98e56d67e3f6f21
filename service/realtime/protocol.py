"""The live-status protocol (DESIGN §5): client messages parsed, server messages built.

Client → server: ``subscribe {payment_id, token, since_version}``, ``unsubscribe
{payment_id}``, ``ping``. Server → client: ``snapshot``, ``update``, ``error``, ``pong``,
``ping``. Both snapshot and update carry the full payment state and the timeline entries
the client has not seen; a client that applies only versions above what it holds can
never go wrong, whatever arrives twice or late. Each also carries ``attempt``: the newest
attempt among its entries as the customer may see it (``payments.customer_view``), or
null when none of its entries records one, so a page needs no read of ``/attempts``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from service.http.serialize import payment_out, timeline_out
from service.payments.customer_view import latest_attempt
from service.payments.models import Payment, TimelineEntry

# WebSocket close codes.
CLOSE_AUTH = 4001
CLOSE_BAD_MESSAGE = 4400
CLOSE_TOO_MANY = 4429  # too many live connections for this credential
CLOSE_SLOW = 4008
CLOSE_IDLE = 4000
CLOSE_RESTART = 1012  # "service restart": reconnect and resubscribe with since_version


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subscribe(_Message):
    type: Literal["subscribe"]
    payment_id: UUID
    token: str | None = Field(None, max_length=4096)
    since_version: int = Field(0, ge=0, le=2**62)


class Unsubscribe(_Message):
    type: Literal["unsubscribe"]
    payment_id: UUID


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[Subscribe | Unsubscribe | Ping, Field(discriminator="type")]
_CLIENT = TypeAdapter[Subscribe | Unsubscribe | Ping](ClientMessage)


class BadMessage(ValueError):
    pass


def parse_client_message(text: str) -> Subscribe | Unsubscribe | Ping:
    try:
        return _CLIENT.validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(message)"
        raise BadMessage(f"{where}: {first['msg']}") from None


def payment_state(payment: Payment) -> dict[str, Any]:
    state: dict[str, Any] = payment_out(payment).model_dump(mode="json")
    return state


def entries_json(entries: list[TimelineEntry]) -> list[dict[str, Any]]:
    return [timeline_out(e).model_dump(mode="json") for e in entries]


def state_message(
    kind: Literal["snapshot", "update"], state: dict[str, Any], entries: list[dict[str, Any]]
) -> str:
    return json.dumps(
        {
            "type": kind,
            "payment_id": state["payment_id"],
            "version": state["version"],
            "payment": state,
            "timeline": entries,
            "attempt": latest_attempt(entries),
        }
    )


def error_message(code: str, message: str, payment_id: UUID | None = None) -> str:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if payment_id is not None:
        body["payment_id"] = str(payment_id)
    return json.dumps(body)


PONG = json.dumps({"type": "pong"})
PING = json.dumps({"type": "ping"})
