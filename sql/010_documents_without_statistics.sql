-- The JSON documents we store to read back, never to search: ANALYZE (autovacuum runs it
-- about once a minute on busy tables) no longer detoasts and summarises them. On the push
-- benchmark's tables that halves its CPU (payment_events 65 -> 16 ms, payment_attempts
-- 52 -> 30 ms), CPU taken from the same cores as the webhooks. The one lookup into a
-- document (stripe_events_charge_object) has an expression index, whose own statistics
-- ANALYZE still gathers.
ALTER TABLE stripe_events ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE payment_events ALTER COLUMN data SET STATISTICS 0;
ALTER TABLE payment_attempts ALTER COLUMN last_payment_error SET STATISTICS 0;
ALTER TABLE notifications ALTER COLUMN data SET STATISTICS 0;
ALTER TABLE clerk_events ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE idempotency_keys ALTER COLUMN response_body SET STATISTICS 0;
ALTER TABLE payments ALTER COLUMN metadata SET STATISTICS 0;
