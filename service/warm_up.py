"""Warm start: before a serving process takes its first request, every pooled connection
is opened and the hot path's statements are prepared on each.

Measured (issue 21): the first burst of webhooks after start took three times as long as
later ones: each opened a pooled connection (connect, authenticate, the codecs' type
lookups) and prepared each of its statements on first use on that connection, so the
first second's pushes waited behind them. Here each connection rehearses payment
creation, a declined-card webhook through the real pipeline and the push path's read,
on a throwaway payment, inside a transaction that is rolled back: nothing is kept, no
NOTIFY is sent (PostgreSQL delivers those only on commit), no merchant notification
leaves. What stays is what we want: open connections, prepared statements, Python's
first-call work done. The rehearsal runs ``REHEARSALS`` times per connection: PostgreSQL
plans a prepared statement's first five executions for their parameters (custom plans,
0.1-0.3 ms of planning each for the webhook's lock and change), and only then settles on
one plan it reuses; rehearsed past those, the first real webhooks skip that planning.

The pool keeps connections for ``max_inactive_connection_lifetime`` (5 minutes) of idle;
one reopened after that is cold again, one connection at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from service.db.payments_repo import PaymentsRepo
from service.db.pool import Pool
from service.db.store import autocommitting, committing
from service.payments.ingest_event import ingest_event
from service.payments.models import NewPayment, StripeIds

log = logging.getLogger(__name__)

REHEARSAL_PREFIX = "paylive_warm_up_"  # in the throwaway ids, should one ever be seen
# PostgreSQL's PREPARE: "the first five executions are done with custom plans".
REHEARSALS = 6


class _Rehearsal:
    """A ``TransactionalStore`` on one connection already inside the rehearsal's
    transaction: each use-case transaction becomes a savepoint, never a commit."""

    def __init__(self, conn: asyncpg.Connection, *, notify: bool, notify_merchants: bool):
        self.conn = conn
        self.notify = notify
        self.notify_merchants = notify_merchants

    def repo(self, *, optimistic: bool = False) -> PaymentsRepo:
        return PaymentsRepo(
            self.conn,
            notify=self.notify,
            notify_merchants=self.notify_merchants,
            optimistic=optimistic,
        )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PaymentsRepo]:
        repo = self.repo()
        async with committing(self.conn, repo, None):  # nested: a savepoint
            yield repo

    @contextlib.asynccontextmanager
    async def optimistic(self) -> AsyncIterator[PaymentsRepo]:
        """The optimistic path's statements; in a savepoint, as everything here."""
        repo = self.repo(optimistic=True)
        async with self.conn.transaction(), autocommitting(repo, None):
            yield repo


def _declined_event(payment_id: uuid.UUID, intent_id: str, livemode: bool) -> dict[str, Any]:
    """``payment_intent.payment_failed`` as Stripe sends it, reduced to what is read."""
    tag = REHEARSAL_PREFIX + uuid.uuid4().hex
    charge = "ch_" + tag
    return {
        "id": "evt_" + tag,
        "object": "event",
        "type": "payment_intent.payment_failed",
        "created": int(time.time()),
        "livemode": livemode,
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "status": "requires_payment_method",
                "amount": 100,
                "currency": "usd",
                "livemode": livemode,
                "latest_charge": charge,
                "metadata": {"paylive_payment_id": str(payment_id)},
                "last_payment_error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                    "charge": charge,
                    "payment_method": {
                        "id": "pm_" + tag,
                        "object": "payment_method",
                        "card": {
                            "brand": "visa",
                            "last4": "0002",
                            "exp_month": 12,
                            "exp_year": 2034,
                        },
                    },
                },
            }
        },
    }


async def rehearse(store: _Rehearsal, livemode: bool) -> str:
    """Creation, a webhook, a push read, on a throwaway payment; returns the webhook's
    outcome (``applied`` unless the pipeline no longer takes this event)."""
    repo = store.repo()
    created = await repo.add_payment(
        NewPayment(
            id=uuid.uuid4(),
            order_id=REHEARSAL_PREFIX + uuid.uuid4().hex,
            customer_id=None,
            flow="payment_intent",
            amount=100,
            currency="usd",
            capture_method="automatic",
            description=None,
            metadata={},
        )
    )
    assert created is not None  # a fresh order id never conflicts
    intent_id = "pi_" + REHEARSAL_PREFIX + uuid.uuid4().hex
    await repo.attach_stripe_ids(created.id, StripeIds(stripe_payment_intent_id=intent_id))
    event = _declined_event(created.id, intent_id, livemode)
    result = await ingest_event(event, store=store, raw=json.dumps(event), livemode=livemode)
    await repo.states_since({created.id: 0})
    return result.outcome


async def _rehearse_on(
    conn: asyncpg.Connection, *, notify: bool, notify_merchants: bool, livemode: bool
) -> str:
    tx = conn.transaction()
    await tx.start()
    try:
        store = _Rehearsal(conn, notify=notify, notify_merchants=notify_merchants)
        outcomes = {await rehearse(store, livemode) for _ in range(REHEARSALS)}
        return outcomes.pop() if len(outcomes) == 1 else ",".join(sorted(outcomes))
    finally:
        await tx.rollback()


async def warm_pool(
    pool: Pool, size: int, *, notify: bool, notify_merchants: bool, livemode: bool
) -> list[str]:
    """Open `size` connections at once and rehearse on each; their outcomes. Never
    raises: a failed warm-up only means a cold start, which is logged."""
    started = time.perf_counter()
    acquired = await asyncio.gather(*(pool.acquire() for _ in range(size)), return_exceptions=True)
    conns = [c for c in acquired if not isinstance(c, BaseException)]
    try:
        if len(conns) < size:
            raise next(e for e in acquired if isinstance(e, BaseException))
        # Every rehearsal ends before any connection goes back, failed or not.
        ended = await asyncio.gather(
            *(
                _rehearse_on(c, notify=notify, notify_merchants=notify_merchants, livemode=livemode)
                for c in conns
            ),
            return_exceptions=True,
        )
        outcomes = [o for o in ended if isinstance(o, str)]
        if len(outcomes) < size:
            raise next(e for e in ended if isinstance(e, BaseException))
    except Exception as exc:  # the service still serves, only its first second is slower
        log.warning("warm-up failed; starting cold: %r", exc)
        return []
    finally:
        for conn in conns:
            await pool.release(conn)
    if any(o != "applied" for o in outcomes):
        log.warning("warm-up rehearsal did not apply its event: %s", sorted(set(outcomes)))
    log.info(
        "warm-up: %d connections open, hot statements prepared, in %.0f ms",
        len(conns),
        (time.perf_counter() - started) * 1000,
    )
    return outcomes
