"""SQL about payment attempts (mixed into ``PaymentsRepo``, so it shares its transaction)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from service.payments.models import Attempt, NewAttempt


class AttemptQueries:
    conn: asyncpg.Connection

    async def attempts(self, payment_id: UUID) -> list[Attempt]:
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

    async def add_attempt(self, payment_id: UUID, attempt: NewAttempt) -> bool:
        """Insert an attempt; False when this Stripe event's attempt is already recorded."""
        status = await self.conn.execute(
            """INSERT INTO payment_attempts (
                   payment_id, outcome, stripe_event_id, occurred_at, stripe_charge_id,
                   stripe_payment_method_id, card_brand, card_last4, error_type, error_code,
                   decline_code, advice_code, network_advice_code, network_decline_code,
                   error_message, last_payment_error, advice_next_step, advice_retryable,
                   advice_message)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18, $19)
               ON CONFLICT (stripe_event_id) DO NOTHING""",
            payment_id,
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
        return bool(status.endswith(" 1"))
