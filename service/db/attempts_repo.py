"""SQL about payment attempts (mixed into ``PaymentsRepo``, so it shares its transaction)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from service.db.optimism import Optimism
from service.payments.models import Attempt, NewAttempt

_ATTEMPT_COLUMNS = """payment_id, outcome, stripe_event_id, occurred_at, stripe_charge_id,
    stripe_payment_method_id, card_brand, card_last4, error_type, error_code, decline_code,
    advice_code, network_advice_code, network_decline_code, error_message,
    last_payment_error, advice_next_step, advice_retryable, advice_message"""
ATTEMPT_ARGS = 18  # the columns after payment_id: ``attempt_args``


def attempt_insert(first: int, *, changed: str | None = None) -> str:
    """The attempt's INSERT, its fields from ``$first`` (``attempt_args``). Alone, its
    payment id is ``$1``; inside a change's own statement, it is the ``changed`` row's
    (nothing written if the change wrote nothing)."""
    fields = ", ".join(f"${n}" for n in range(first, first + ATTEMPT_ARGS))
    source = f"VALUES ($1, {fields})"
    if changed is not None:
        source = f"SELECT id, {fields} FROM {changed}"  # noqa: S608 - constant SQL pieces
    return f"""INSERT INTO payment_attempts ({_ATTEMPT_COLUMNS}) {source}
            ON CONFLICT (stripe_event_id) DO NOTHING"""


def attempt_args(attempt: NewAttempt) -> tuple[object, ...]:
    return (
        attempt.outcome,
        attempt.stripe_event_id,
        attempt.occurred_at,
        attempt.stripe_charge_id,
        attempt.stripe_payment_method_id,
        attempt.card_brand,
        attempt.card_last4,
        attempt.error_type,
        attempt.error_code,
        attempt.decline_code,
        attempt.advice_code,
        attempt.network_advice_code,
        attempt.network_decline_code,
        attempt.error_message,
        attempt.last_payment_error,
        attempt.advice_next_step,
        attempt.advice_retryable,
        attempt.advice_message,
    )


_ADD_ATTEMPT = attempt_insert(2)


class AttemptQueries(Optimism):
    conn: asyncpg.Connection
    # An attempt waiting for the transaction's next change (``add_attempt``).
    staged_attempt: tuple[UUID, NewAttempt] | None = None

    async def attempts(self, payment_id: UUID) -> list[Attempt]:
        await self.flush_attempt()
        rows = await self.conn.fetch(
            """SELECT id, payment_id, outcome, stripe_event_id, stripe_charge_id,
                      stripe_payment_method_id, card_brand, card_last4, error_type, error_code,
                      decline_code, advice_code, network_advice_code, network_decline_code,
                      error_message, advice_next_step, advice_retryable, advice_message,
                      occurred_at
               FROM payment_attempts WHERE payment_id = $1 ORDER BY occurred_at, id""",
            payment_id,
        )
        return [Attempt(**dict(row)) for row in rows]

    async def fill_attempt_card(self, charge_id: str, brand: str | None, last4: str | None) -> int:
        """Card details on the attempts of this charge that lack them; rows updated."""
        self.refuse_if_optimistic("an attempt's card")
        await self.flush_attempt()
        status = await self.conn.execute(
            """UPDATE payment_attempts SET card_brand = $2, card_last4 = $3
               WHERE stripe_charge_id = $1 AND card_brand IS NULL""",
            charge_id,
            brand,
            last4,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def add_attempt(self, payment_id: UUID, attempt: NewAttempt) -> None:
        """Record a new attempt with the transaction's next change (``apply_change``
        writes it in the change's own statement: one round trip fewer per webhook), or
        before commit if no change follows.

        It is new by construction: its row is keyed by its event's id, and the webhook
        pipeline records an attempt only in the transaction that stores that event's
        inbox row (``inbox_add``; ``inbox_claim`` of an earlier failed try): one meeting
        the event stored already fails whole and rolls back, so no row with this key can
        exist. The insert still says ON CONFLICT DO NOTHING, in case one ever did.
        """
        await self.flush_attempt()
        self.staged_attempt = (payment_id, attempt)

    async def flush_attempt(self) -> None:
        """The staged attempt in a statement of its own, if one is waiting."""
        if self.staged_attempt is None:
            return
        payment_id, attempt = self.staged_attempt
        self.staged_attempt = None
        await self.conn.execute(_ADD_ATTEMPT, payment_id, *attempt_args(attempt))

    def take_staged_attempt(self, payment_id: UUID) -> NewAttempt | None:
        """The staged attempt of `payment_id`, now the caller's to write."""
        staged = self.staged_attempt
        if staged is None or staged[0] != payment_id:
            return None
        self.staged_attempt = None
        return staged[1]
