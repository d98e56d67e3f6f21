-- Signed-in customers (Clerk): the identity columns of a customer and the Clerk inbox.
-- Forward-only: once landed this file is never edited.

-- `external_id` is the identity provider's user id (a session token's `sub`).
-- `identity_updated_at`: the provider's `updated_at` (ms since the epoch) of the user
-- record applied last, so an older update never overwrites a newer one.
-- `deleted_at`: the user was deleted; their personal data is erased, payments are kept.
ALTER TABLE customers
    ADD COLUMN first_name          text CHECK (first_name IS NULL OR length(first_name) <= 200),
    ADD COLUMN last_name           text CHECK (last_name IS NULL OR length(last_name) <= 200),
    ADD COLUMN identity_updated_at bigint CHECK (identity_updated_at IS NULL
                                                 OR identity_updated_at >= 0),
    ADD COLUMN deleted_at          timestamptz;

-- "My bookings": a customer's payments, newest first, by keyset.
CREATE INDEX payments_customer ON payments (customer_id, created_at DESC, id DESC)
    WHERE customer_id IS NOT NULL;

-- The Clerk webhook inbox (sent through Svix; `svix-id` is the delivery's message id,
-- the same on every retry of one message).
CREATE TABLE clerk_events (
    svix_id      text PRIMARY KEY CHECK (length(svix_id) BETWEEN 1 AND 255),
    type         text NOT NULL,
    user_id      text,
    payload      jsonb NOT NULL,
    outcome      text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_error   text
);
CREATE INDEX clerk_events_unprocessed ON clerk_events (received_at) WHERE processed_at IS NULL;
