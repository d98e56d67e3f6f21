"""The Clerk webhook inbox (one row per Svix message id), shaped like Stripe's."""

from __future__ import annotations

import asyncpg

from service.payments.ports import InboxState


class ClerkInboxQueries:
    conn: asyncpg.Connection

    async def clerk_claim(
        self, svix_id: str, event_type: str, user_id: str | None, raw: str
    ) -> InboxState:
        """Insert the message (marked processed: the row commits only with its effects), or
        lock the existing row; say whether it still needs applying. A concurrent delivery
        of the same message waits on the row until the first transaction ends."""
        inserted = await self.conn.fetchval(
            """INSERT INTO clerk_events (svix_id, type, user_id, payload, processed_at)
               VALUES ($1, $2, $3, $4::text::jsonb, now())
               ON CONFLICT (svix_id) DO NOTHING RETURNING true""",
            svix_id,
            event_type,
            user_id,
            raw,
        )
        if inserted:
            return "new"
        processed_at = await self.conn.fetchval(
            "SELECT processed_at FROM clerk_events WHERE svix_id = $1 FOR UPDATE", svix_id
        )
        return "pending" if processed_at is None else "processed"

    async def clerk_mark_processed(self, svix_id: str, outcome: str) -> None:
        await self.conn.execute(
            """UPDATE clerk_events SET processed_at = coalesce(processed_at, now()),
                   outcome = $2, last_error = NULL
               WHERE svix_id = $1""",
            svix_id,
            outcome,
        )

    async def clerk_record_failure(
        self, svix_id: str, event_type: str, user_id: str | None, raw: str, error: str
    ) -> None:
        """In its own transaction after a rollback: kept, unprocessed, with why."""
        await self.conn.execute(
            """INSERT INTO clerk_events (svix_id, type, user_id, payload, failures, last_error)
               VALUES ($1, $2, $3, $4::text::jsonb, 1, $5)
               ON CONFLICT (svix_id) DO UPDATE
                   SET failures = clerk_events.failures + 1, last_error = EXCLUDED.last_error
                   WHERE clerk_events.processed_at IS NULL""",
            svix_id,
            event_type,
            user_id,
            raw,
            error[:2000],
        )
