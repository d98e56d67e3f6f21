"""The webhook inbox (mixed into ``PaymentsRepo``, so it shares its transaction)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.db.optimism import Optimism
from service.payments.ports import EventAlreadyStored, InboxState


def _stored_time(created: int) -> datetime:
    """`created` as a time Python can hold: a signed but absurd one is still stored (its
    event is flagged unusable when applied), clamped rather than refused."""
    return datetime.fromtimestamp(min(max(int(created), 0), _LATEST), UTC)


_LATEST = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp())


def _row(event: dict[str, Any], raw: str | None) -> tuple[str, str, datetime, bool, str]:
    """An inbox row's id, type, created, livemode and payload (the JSON text as received
    when at hand, rather than serialized again)."""
    return (
        event["id"],
        event["type"],
        _stored_time(event["created"]),
        bool(event.get("livemode", False)),
        raw if raw is not None else json.dumps(event),
    )


_INBOX_COLUMNS = "id, type, created, livemode, payload, processed_at, last_error"
INBOX_ARGS = 6  # ``_row``'s five values, then last_error


def inbox_insert(first: int, *, changed: str | None = None) -> str:
    """An event's inbox row, processed, from ``$first`` (``_row``'s five values, then
    last_error). No ON CONFLICT: a row already there fails the statement
    (``already_stored``). Inside a change's own statement, only if the ``changed`` row
    was written: an optimistic change whose payment moved on writes nothing at all."""
    a, b, c, d, e, f = (f"${n}" for n in range(first, first + INBOX_ARGS))
    values = f"{a}, {b}, {c}, {d}, {e}::text::jsonb, now(), {f}"
    source = f"VALUES ({values})"
    if changed is not None:
        source = f"SELECT {values} FROM {changed}"  # noqa: S608 - constant SQL pieces only
    return f"INSERT INTO stripe_events ({_INBOX_COLUMNS}) {source}"


_INBOX_ADD = inbox_insert(1)


@contextlib.contextmanager
def already_stored() -> Iterator[None]:
    """A staged inbox row (``inbox_add``) that met its event's existing row."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "stripe_events_pkey":
            raise EventAlreadyStored(exc.detail) from exc
        raise


StagedEvent = tuple[str, str, datetime, bool, str]  # ``_row``


class InboxQueries(Optimism):
    conn: asyncpg.Connection
    # An event waiting for the transaction's next change (``inbox_add``).
    staged_event: StagedEvent | None = None

    def inbox_add(self, event: dict[str, Any], raw: str | None = None) -> None:
        """Store the event as processed, with this transaction's next change (in the
        change's own statement: one round trip fewer than claiming it first) or before
        commit. The inbox must not hold it yet: if it does, the statement fails and
        ``EventAlreadyStored`` says so; the transaction must then be rolled back, and
        ``inbox_claim`` tells what the existing row means."""
        self.staged_event = _row(event, raw)

    def take_staged_event(self) -> StagedEvent | None:
        staged, self.staged_event = self.staged_event, None
        return staged

    async def flush_event(self) -> None:
        """The staged event in a statement of its own, if one is waiting."""
        staged = self.take_staged_event()
        if staged is not None:
            with already_stored():
                await self.conn.execute(_INBOX_ADD, *staged, None)

    async def inbox_claim(self, event: dict[str, Any], raw: str | None = None) -> InboxState:
        """Insert the event, or lock its existing row; say whether it still needs applying.

        A new row is inserted already marked processed: it is in the caller's transaction,
        which commits only once the event is applied (a failure rolls the row back, and
        ``inbox_record_failure`` keeps it unprocessed), so "new" needs no second UPDATE.
        A "pending" row (an earlier attempt failed) is marked with
        ``inbox_mark_processed``. A concurrent delivery of the same event waits on the row
        lock (or the uncommitted insert) until the first transaction ends, then sees it
        processed.
        """
        inserted = await self.conn.fetchval(
            """INSERT INTO stripe_events (id, type, created, livemode, payload, processed_at)
               VALUES ($1, $2, $3, $4, $5::text::jsonb, now())
               ON CONFLICT (id) DO NOTHING RETURNING true""",
            *_row(event, raw),
        )
        if inserted:
            return "new"
        processed_at = await self.conn.fetchval(
            "SELECT processed_at FROM stripe_events WHERE id = $1 FOR UPDATE", event["id"]
        )
        return "pending" if processed_at is None else "processed"

    async def inbox_mark_processed(self, event_id: str) -> None:
        await self.conn.execute(
            "UPDATE stripe_events SET processed_at = now(), last_error = NULL WHERE id = $1",
            event_id,
        )

    async def inbox_mark_unusable(self, event_id: str, why: str) -> None:
        """Processed (never to be applied, nor retried), with why in last_error."""
        staged = self.staged_event
        if staged is not None and staged[0] == event_id:
            self.staged_event = None
            with already_stored():
                await self.conn.execute(_INBOX_ADD, *staged, why[:2000])
            return
        await self.conn.execute(
            "UPDATE stripe_events SET processed_at = now(), last_error = $2 WHERE id = $1",
            event_id,
            why[:2000],
        )

    async def inbox_record_failure(
        self, event: dict[str, Any], error: str, raw: str | None = None
    ) -> None:
        """In its own transaction after a rollback: the event is kept, unprocessed, with why."""
        await self.conn.execute(
            """INSERT INTO stripe_events (id, type, created, livemode, payload, failures,
                                          last_error)
               VALUES ($1, $2, $3, $4, $5::text::jsonb, 1, $6)
               ON CONFLICT (id) DO UPDATE
                   SET failures = stripe_events.failures + 1, last_error = EXCLUDED.last_error
                   WHERE stripe_events.processed_at IS NULL""",
            *_row(event, raw),
            error[:2000],
        )

    async def inbox_quarantine(
        self, event_id: str, event_type: str, payload: dict[str, str], reason: str
    ) -> bool:
        """A signed event that can never apply, kept (as ``payload``, which wraps its raw
        body) and marked processed so nothing retries it; False if the id was known."""
        inserted = await self.conn.fetchval(
            """INSERT INTO stripe_events (id, type, created, livemode, payload, processed_at,
                                          last_error)
               VALUES ($1, $2, now(), false, $3::text::jsonb, now(), $4)
               ON CONFLICT (id) DO NOTHING RETURNING true""",
            event_id,
            event_type,
            json.dumps(payload),
            reason,
        )
        return bool(inserted)

    async def inbox_unprocessed(self, limit: int) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            """SELECT payload FROM stripe_events WHERE processed_at IS NULL
               ORDER BY created, received_at LIMIT $1""",
            limit,
        )
        return [row["payload"] for row in rows]

    async def charge_card(self, charge_id: str) -> dict[str, Any] | None:
        """The newest charge object we received for this id (charge.* events), if any.

        Optimistic, only a charge found is vouched for: one not stored yet may be in a
        transaction that holds the payment's lock and fills the attempts already there,
        and only that lock orders the two (``intent_events.charge_card``)."""
        charge: dict[str, Any] | None = await self.conn.fetchval(
            """SELECT payload -> 'data' -> 'object' FROM stripe_events
               WHERE type LIKE 'charge.%' AND payload -> 'data' -> 'object' ->> 'id' = $1
               ORDER BY created DESC LIMIT 1""",
            charge_id,
        )
        if charge is None:
            self.refuse_if_optimistic("the charge's card is not stored yet")
        return charge
