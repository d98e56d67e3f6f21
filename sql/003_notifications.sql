-- Merchant notifications (issue 16): an outbox written in each payment change's own
-- transaction, delivered by any process. Forward-only: once landed this file is never edited.

-- The configured endpoints (MERCHANT_WEBHOOK_URLS, synced at start-up). A 410 Gone
-- disables one until an operator retries one of its notifications.
CREATE TABLE merchant_endpoints (
    id              serial PRIMARY KEY,
    url             text NOT NULL UNIQUE CHECK (length(url) BETWEEN 8 AND 2048),
    configured      boolean NOT NULL DEFAULT true,
    disabled_at     timestamptz,
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (payment version, endpoint). webhook_id is the Standard Webhooks message id:
-- the same on every retry. A claim is a lease: a process that dies mid-request leaves
-- lease_until behind, and the row is claimable again once it passes.
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    webhook_id      text NOT NULL,
    endpoint_id     integer NOT NULL REFERENCES merchant_endpoints (id),
    payment_id      uuid NOT NULL REFERENCES payments (id),
    version         bigint NOT NULL CHECK (version >= 1),
    type            text NOT NULL CHECK (type LIKE 'payment.%'),
    data            jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claim_token     uuid,
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (endpoint_id, payment_id, version)
);
-- Claiming takes a window of the oldest due rows of an endpoint from this index; each
-- candidate then looks for an earlier pending version of its payment with one probe of
-- the unique index above.
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notifications_payment ON notifications (payment_id, version);

CREATE TABLE notification_attempts (
    id              bigserial PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id),
    attempted_at    timestamptz NOT NULL,
    http_status     integer,
    error           text,
    duration_ms     double precision NOT NULL CHECK (duration_ms >= 0)
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, id);
