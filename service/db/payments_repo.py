"""All SQL about payments, their timeline, attempts, customers and refunds.

A ``PaymentsRepo`` wraps one connection inside one transaction (see ``store.py``), or,
optimistic, none: its one change then writes only if the payment is as read. The use
cases call it through the ``PaymentsTx`` port. Every visible change goes through
``apply_change``: version + 1, a timeline row and a NOTIFY, all in one statement, so
subscribers hear of it exactly when it commits. With a fan-out broker
(``REALTIME_BROKER``) the repo is built ``notify=False``: no NOTIFY, and ``committed``
lists what its owner publishes once the transaction has committed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from service.db.attempts_repo import ATTEMPT_ARGS, AttemptQueries, attempt_args, attempt_insert
from service.db.cards_repo import CardQueries
from service.db.inbox_repo import InboxQueries, already_stored, inbox_insert
from service.db.notifications_repo import (
    OUTBOX_ARGS,
    outbox_args,
    outbox_insert,
    record_notification,
)
from service.db.refunds_repo import RefundQueries
from service.notifications.rules import notification_for
from service.payments.models import Change, Customer, NewPayment, Payment, StripeIds, TimelineEntry
from service.payments.ports import ApplyUnderLock

NOTIFY_CHANNEL = "paylive_payments"

_PAYMENT_COLUMNS = """id, order_id, customer_id, flow, amount, currency, status, version,
    capture_method, stripe_payment_intent_id, stripe_checkout_session_id, client_secret,
    checkout_url, checkout_expires_at, amount_capturable, amount_captured, amount_refunded,
    cancellation_reason, description, metadata, stripe_state_at, stripe_state_rank, created_at,
    updated_at"""


_PAYMENT_COLUMNS_OF_P = ", ".join(f"p.{c.strip()}" for c in _PAYMENT_COLUMNS.split(","))


def _payment(row: asyncpg.Record) -> Payment:
    return Payment(**dict(row))


def _entry(row: asyncpg.Record) -> TimelineEntry:
    return TimelineEntry(**dict(row))


_TIMELINE_ROW = """INSERT INTO payment_events (payment_id, version, kind, status, cause_type,
                                            cause_id, data)
            SELECT id, version, $1::text, status, $2::text, $3::text, $4::jsonb FROM changed"""


def _with_timeline(
    change_sql: str,
    *,
    notify: bool = True,
    outbox: bool = False,
    attempt: bool = False,
    event: bool = False,
    first_extra: int = 16,
) -> str:
    """`change_sql` (an INSERT or UPDATE of payments, RETURNING its columns, parameters
    from $6) plus its timeline row and its NOTIFY, as one statement; and what the change
    takes along, each with its parameters in this order from ``first_extra`` ($16, or $17
    after an optimistic change's guard): with ``outbox`` the merchant's notification
    (``outbox_args``), with ``attempt`` the attempt it records (``attempt_args``), with
    ``event`` the Stripe event's inbox row (``inbox_add``).

    $1..$5: the entry's kind, cause_type, cause_id, data, and ts (when the change was
    made, for the commit-to-push latency metric). One statement rather than several: on
    the webhook path each round trip to PostgreSQL costs more than the work it carries
    (make bench, ingest). No row back: ``change_sql`` changed nothing, and nothing was
    written (the outbox and attempt rows select from ``changed`` too; the caller then
    fails the transaction).
    """
    parts = [f"changed AS ({change_sql})", f"entry AS ({_TIMELINE_ROW})"]
    first = first_extra
    if outbox:
        parts.append(f"outbox AS ({outbox_insert(first, changed='changed')})")
        first += OUTBOX_ARGS
    if attempt:
        parts.append(f"attempt AS ({attempt_insert(first, changed='changed')})")
        first += ATTEMPT_ARGS
    if event:
        parts.append(f"inbox AS ({inbox_insert(first, changed='changed')})")
    if notify:
        parts.append(
            f"""note AS (
            SELECT pg_notify('{NOTIFY_CHANNEL}', json_build_object(
                'payment_id', id, 'version', version, 'ts', $5::float8)::text)
            FROM changed)"""  # noqa: S608 - constant SQL pieces only
        )
        tail = "SELECT changed.* FROM changed CROSS JOIN note"
    else:  # $5 then goes out with the publish; still typed for the statement
        tail = "SELECT changed.* FROM changed, (SELECT $5::float8) AS ts"
    return f"WITH {', '.join(parts)} {tail}"


# A change sets every value it may touch to what ``Change.applied_to`` computed (the one
# place that says what a change does), so the merchant's notification can be built before
# the statement and written by it. ``updated_at`` is the database's (the transaction's
# start: the brokers' catch-up watermark trails that clock), patched into the outbox row.
# Optimistic (``guarded``): also only if the row is the one read, $16 its xmin (the
# transaction that wrote it): any write since, a change or only a watermark, moved it.
_CHANGE = f"""UPDATE payments
        SET version = $9 + 1, status = $7, stripe_state_at = $8, stripe_state_rank = $10,
            stripe_payment_intent_id = $11, amount_capturable = $12, amount_captured = $13,
            amount_refunded = $14, cancellation_reason = $15, updated_at = now()
        WHERE id = $6 AND version = $9{{guard}}
        RETURNING {_PAYMENT_COLUMNS}"""  # noqa: S608 - constant SQL pieces only
_APPLY_CHANGE = {
    (notify, outbox, attempt, event, guarded): _with_timeline(
        _CHANGE.format(guard=" AND xmin = $16::xid" if guarded else ""),
        notify=notify,
        outbox=outbox,
        attempt=attempt,
        event=event,
        first_extra=17 if guarded else 16,
    )
    for notify in (True, False)
    for outbox in (True, False)
    for attempt in (True, False)
    for event in (True, False)
    for guarded in (True, False)
}

_ADD_PAYMENT = {
    notify: _with_timeline(
        f"""INSERT INTO payments (id, order_id, customer_id, flow, amount, currency,
                                  capture_method, description, metadata)
            SELECT $6, $7, $8, $9, $10, $11, $12, $13, $14
            WHERE NOT EXISTS (SELECT FROM payments WHERE order_id = $7 AND status <> 'canceled'
                              FOR UPDATE)
            ON CONFLICT DO NOTHING
            RETURNING {_PAYMENT_COLUMNS}""",  # noqa: S608 - constant SQL pieces only
        notify=notify,
    )
    for notify in (True, False)
}

_ATTACH_STRIPE_IDS = f"""UPDATE payments
    SET stripe_payment_intent_id = coalesce($2, stripe_payment_intent_id),
        stripe_checkout_session_id = coalesce($3, stripe_checkout_session_id),
        client_secret = coalesce($4, client_secret),
        checkout_url = coalesce($5, checkout_url),
        checkout_expires_at = coalesce($6, checkout_expires_at),
        updated_at = now()
    WHERE id = $1
    RETURNING {_PAYMENT_COLUMNS}"""  # noqa: S608 - constant SQL pieces only


class PaymentsRepo(InboxQueries, RefundQueries, AttemptQueries, CardQueries):
    def __init__(
        self,
        conn: asyncpg.Connection,
        *,
        notify: bool = True,
        notify_merchants: bool = True,
        optimistic: bool = False,
    ) -> None:
        """``optimistic``: no transaction (``PgStore.optimistic``). A read "for update"
        takes no lock but notes the row's xmin; ``apply_change`` writes only if it is
        unchanged; a write or a read that cannot be vouched for so raises
        ``ApplyUnderLock`` before anything is written."""
        self.conn = conn
        self.notify = notify  # False: a broker publishes after commit (``committed``)
        self.notify_merchants = notify_merchants  # write the merchant outbox (issue 16)
        self.committed: list[tuple[UUID, int, float]] = []  # (payment, version, ts), notify=False
        self.wrote_notification = False  # an outbox row: its deliverer is told after commit
        self.read_xmin = {} if optimistic else None

    # customers -------------------------------------------------------------------------

    async def get_or_add_customer(
        self, new_id: UUID, external_id: str, email: str | None, name: str | None
    ) -> Customer:
        row = await self.conn.fetchrow(
            """INSERT INTO customers (id, external_id, email, name) VALUES ($1, $2, $3, $4)
               ON CONFLICT (external_id) DO UPDATE
                   SET email = coalesce(EXCLUDED.email, customers.email),
                       name = coalesce(EXCLUDED.name, customers.name), updated_at = now()
               RETURNING id, external_id, stripe_customer_id, email, name""",
            new_id,
            external_id,
            email,
            name,
        )
        assert row is not None
        return Customer(**dict(row))

    async def set_stripe_customer(self, customer_id: UUID, stripe_customer_id: str) -> None:
        await self.conn.execute(
            """UPDATE customers SET stripe_customer_id = $2, updated_at = now()
               WHERE id = $1 AND stripe_customer_id IS NULL""",
            customer_id,
            stripe_customer_id,
        )

    # payments --------------------------------------------------------------------------

    async def add_payment(self, new: NewPayment) -> Payment | None:
        """Insert version 1 and its timeline row; None when the order already has an open
        or succeeded payment. Race-free as one statement (``PgStore.add_payment`` runs it
        without a transaction): the order's live payments are read under their lock, so
        one succeeding or canceled meanwhile is waited for (the unique indexes alone would
        let an open payment in beside a succeeded one), and a racing insert is refused."""
        row = await self.conn.fetchrow(
            _ADD_PAYMENT[self.notify],
            "created",
            "api",
            None,
            {"amount": new.amount},
            time.time(),
            new.id,
            new.order_id,
            new.customer_id,
            new.flow,
            new.amount,
            new.currency,
            new.capture_method,
            new.description,
            new.metadata,
        )
        if row is None:
            return None
        created = self._changed(_payment(row))
        if self.notify_merchants:  # the outbox row, in this transaction (issue 16)
            self.wrote_notification |= await record_notification(
                self.conn, None, created, Change("created", "api", None, data={})
            )
        return created

    async def flush_staged(self) -> None:
        """What no change took along (``inbox_add``, ``add_attempt``): before commit."""
        await self.flush_event()
        await self.flush_attempt()

    def _changed(self, payment: Payment) -> Payment:
        if not self.notify:
            self.committed.append((payment.id, payment.version, time.time()))
        return payment

    def _lock(self, for_update: bool) -> tuple[str, str]:
        """The extra column and the lock clause of a read: "for update" locks the row
        in a transaction, and notes its xmin when optimistic (``_read``)."""
        if not for_update:
            return "", ""
        return (", xmin AS row_xmin", "") if self.read_xmin is not None else ("", " FOR UPDATE")

    def _read(self, row: asyncpg.Record | None) -> Payment | None:
        if row is None:
            return None
        fields = dict(row)
        xmin = fields.pop("row_xmin", None)
        payment = Payment(**fields)
        if xmin is not None and self.read_xmin is not None:
            self.read_xmin[payment.id] = xmin
        return payment

    async def get_payment(self, payment_id: UUID, *, for_update: bool = False) -> Payment | None:
        xmin, lock = self._lock(for_update)
        row = await self.conn.fetchrow(
            f"SELECT {_PAYMENT_COLUMNS}{xmin} FROM payments WHERE id = $1{lock}",  # noqa: S608 - constant SQL pieces only
            payment_id,
        )
        return self._read(row)

    async def get_payment_by_stripe_id(
        self,
        *,
        payment_intent: str | None = None,
        checkout_session: str | None = None,
        for_update: bool = False,
    ) -> Payment | None:
        xmin, lock = self._lock(for_update)
        # One condition per id given: an OR with a NULL side still costs a second index
        # scan on every webhook (a prepared statement's plan cannot know it is NULL).
        args: list[str]
        match (payment_intent, checkout_session):
            case (None, None):
                return None
            case (str() as intent, None):
                where, args = "stripe_payment_intent_id = $1", [intent]
            case (None, str() as session):
                where, args = "stripe_checkout_session_id = $1", [session]
            case (str() as intent, str() as session):
                where = "stripe_payment_intent_id = $1 OR stripe_checkout_session_id = $2"
                args = [intent, session]
        row = await self.conn.fetchrow(
            f"SELECT {_PAYMENT_COLUMNS}{xmin} FROM payments WHERE {where} LIMIT 1{lock}",  # noqa: S608 - constant SQL pieces only
            *args,
        )
        return self._read(row)

    async def live_payments_for_order(
        self, order_id: str, *, for_update: bool = False
    ) -> list[Payment]:
        """The order's open and succeeded payments (at most one of each)."""
        lock = " FOR UPDATE" if for_update else ""
        rows = await self.conn.fetch(
            f"""SELECT {_PAYMENT_COLUMNS} FROM payments
                WHERE order_id = $1 AND status <> 'canceled' ORDER BY created_at{lock}""",  # noqa: S608 - constant SQL pieces only
            order_id,
        )
        return [_payment(row) for row in rows]

    async def list_payments(
        self, order_id: str | None, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[Payment]:
        rows = await self.conn.fetch(
            f"""SELECT {_PAYMENT_COLUMNS} FROM payments
                WHERE ($1::text IS NULL OR order_id = $1)
                  AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
                ORDER BY created_at DESC, id DESC LIMIT $4""",  # noqa: S608 - constant SQL pieces only
            order_id,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )
        return [_payment(row) for row in rows]

    async def attach_stripe_ids(self, payment_id: UUID, ids: StripeIds) -> Payment:
        """Record what Stripe answered at creation: no version bump, nothing visible changed."""
        row = await self.conn.fetchrow(
            _ATTACH_STRIPE_IDS,
            payment_id,
            ids.stripe_payment_intent_id,
            ids.stripe_checkout_session_id,
            ids.client_secret,
            ids.checkout_url,
            ids.checkout_expires_at,
        )
        assert row is not None
        return _payment(row)

    async def apply_change(self, payment: Payment, change: Change) -> Payment:
        """Version + 1, the timeline row, the NOTIFY and the merchant's notification, in
        one statement; the caller holds the row lock, or (optimistic) the statement writes
        only if the row is still the one read, else nothing and ``ApplyUnderLock``."""
        guard: tuple[int, ...] = ()
        if self.read_xmin is not None:
            if payment.id not in self.read_xmin:
                raise ApplyUnderLock("the payment was not read for update")
            guard = (self.read_xmin[payment.id],)
        after = change.applied_to(payment, datetime.now(UTC))
        note = notification_for(payment, after, change) if self.notify_merchants else None
        attempt = self.take_staged_attempt(payment.id)
        await self.flush_attempt()  # another payment's, should one be waiting
        event = self.take_staged_event()
        statement = _APPLY_CHANGE[
            self.notify, note is not None, attempt is not None, event is not None, bool(guard)
        ]
        with already_stored():
            row = await self.conn.fetchrow(
                statement,
                change.kind,
                change.cause_type,
                change.cause_id,
                change.data,
                time.time(),
                payment.id,
                after.status,
                after.stripe_state_at,
                payment.version,
                after.stripe_state_rank,
                after.stripe_payment_intent_id,
                after.amount_capturable,
                after.amount_captured,
                after.amount_refunded,
                after.cancellation_reason,
                *guard,
                *(outbox_args(note) if note is not None else ()),
                *(attempt_args(attempt) if attempt is not None else ()),
                *((*event, None) if event is not None else ()),
            )
        if row is None:
            if guard:
                raise ApplyUnderLock(f"payment {payment.id} changed since it was read")
            raise RuntimeError(f"payment {payment.id} changed under us (lock not held?)")
        self.wrote_notification |= note is not None
        return self._changed(_payment(row))

    async def touch_stripe_state(self, payment_id: UUID, at: datetime, rank: int | None) -> None:
        """Record that a newer Stripe event was seen, without a visible change."""
        self.refuse_if_optimistic("a watermark alone")
        await self.conn.execute(
            """UPDATE payments SET stripe_state_at = $2, stripe_state_rank = $3
               WHERE id = $1""",
            payment_id,
            at,
            rank,
        )

    async def timeline(self, payment_id: UUID, since_version: int = 0) -> list[TimelineEntry]:
        rows = await self.conn.fetch(
            """SELECT payment_id, version, kind, status, cause_type, cause_id, data, created_at
               FROM payment_events WHERE payment_id = $1 AND version > $2 ORDER BY version""",
            payment_id,
            since_version,
        )
        return [_entry(row) for row in rows]

    async def current_versions(self, payment_ids: list[UUID]) -> dict[UUID, int]:
        rows = await self.conn.fetch(
            "SELECT id, version FROM payments WHERE id = ANY($1::uuid[])", payment_ids
        )
        return {row["id"]: row["version"] for row in rows}

    async def states_since(
        self, since: dict[UUID, int]
    ) -> tuple[list[Payment], dict[UUID, list[TimelineEntry]]]:
        """Several payments and their timeline entries after a version each, in one
        statement (one snapshot, one round trip per batch on the push path)."""
        ids = list(since)
        rows = await self.conn.fetch(
            f"""SELECT {_PAYMENT_COLUMNS_OF_P},
                       array(SELECT e FROM payment_events e
                             WHERE e.payment_id = p.id AND e.version > w.after
                             ORDER BY e.version) AS entries
                FROM unnest($1::uuid[], $2::bigint[]) AS w (payment_id, after)
                JOIN payments p ON p.id = w.payment_id""",  # noqa: S608 - constant SQL pieces only
            ids,
            [since[i] for i in ids],
        )
        payments = [Payment(**{k: v for k, v in row.items() if k != "entries"}) for row in rows]
        entries = {row["id"]: [_entry(e) for e in row["entries"]] for row in rows}
        return payments, entries


__all__: Sequence[str] = ("NOTIFY_CHANNEL", "PaymentsRepo")
