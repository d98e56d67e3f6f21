-- paylive schema, DESIGN §2. Forward-only: once landed this file is never edited.
-- Money is bigint minor units; statuses are Stripe PaymentIntent statuses.

CREATE TABLE customers (
    id                 uuid PRIMARY KEY,
    external_id        text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 200),
    stripe_customer_id text UNIQUE,
    email              text CHECK (email IS NULL OR length(email) <= 320),
    name               text CHECK (name IS NULL OR length(name) <= 200),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    id                         uuid PRIMARY KEY,
    order_id                   text NOT NULL CHECK (length(order_id) BETWEEN 1 AND 200),
    customer_id                uuid REFERENCES customers (id),
    flow                       text NOT NULL DEFAULT 'payment_intent'
                               CHECK (flow IN ('payment_intent', 'checkout_session')),
    amount                     bigint NOT NULL CHECK (amount > 0 AND amount <= 99999999),
    currency                   text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status                     text NOT NULL DEFAULT 'requires_payment_method'
                               CHECK (status IN ('requires_payment_method', 'requires_confirmation',
                                                 'requires_action', 'processing', 'requires_capture',
                                                 'canceled', 'succeeded')),
    version                    bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    capture_method             text NOT NULL DEFAULT 'automatic'
                               CHECK (capture_method IN ('automatic', 'automatic_async', 'manual')),
    stripe_payment_intent_id   text UNIQUE,
    stripe_checkout_session_id text UNIQUE,
    client_secret              text,
    checkout_url               text,
    checkout_expires_at        timestamptz,
    amount_capturable          bigint NOT NULL DEFAULT 0 CHECK (amount_capturable >= 0),
    amount_captured            bigint NOT NULL DEFAULT 0
                               CHECK (amount_captured >= 0 AND amount_captured <= amount),
    amount_refunded            bigint NOT NULL DEFAULT 0
                               CHECK (amount_refunded >= 0 AND amount_refunded <= amount_captured),
    cancellation_reason        text,
    description                text CHECK (description IS NULL OR length(description) <= 1000),
    metadata                   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    -- `created` of the last Stripe event applied to the status (DESIGN §4 ordering).
    stripe_state_at            timestamptz,
    -- its tie-break rank (service/payments/states.py event_rank) for same-second events.
    stripe_state_rank          integer,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

-- At most one succeeded and at most one open (not final) payment per order.
CREATE UNIQUE INDEX payments_one_succeeded_per_order ON payments (order_id)
    WHERE status = 'succeeded';
CREATE UNIQUE INDEX payments_one_open_per_order ON payments (order_id)
    WHERE status NOT IN ('succeeded', 'canceled');
CREATE INDEX payments_order_id ON payments (order_id, created_at DESC);
-- Reconciliation scans unfinished payments by last change.
CREATE INDEX payments_unfinished ON payments (updated_at)
    WHERE status NOT IN ('succeeded', 'canceled');

CREATE TABLE payment_attempts (
    id                       bigserial PRIMARY KEY,
    payment_id               uuid NOT NULL REFERENCES payments (id),
    outcome                  text NOT NULL
                             CHECK (outcome IN ('succeeded', 'failed', 'requires_action',
                                                'processing', 'canceled')),
    stripe_event_id          text UNIQUE,
    stripe_charge_id         text,
    stripe_payment_method_id text,
    card_brand               text,
    card_last4               text CHECK (card_last4 IS NULL OR card_last4 ~ '^[0-9]{4}$'),
    error_type               text,
    error_code               text,
    decline_code             text,
    advice_code              text,
    network_advice_code      text,
    network_decline_code     text,
    error_message            text,
    last_payment_error       jsonb,
    advice_next_step         text CHECK (advice_next_step IS NULL OR advice_next_step IN
                                         ('use_another_card', 'fix_card_details', 'authenticate',
                                          'retry_later', 'contact_issuer', 'none')),
    advice_retryable         boolean,
    advice_message           text,
    occurred_at              timestamptz NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_attempts_payment ON payment_attempts (payment_id, occurred_at, id);

-- The timeline: one row per version of a payment; what reconnecting clients replay.
CREATE TABLE payment_events (
    payment_id uuid NOT NULL REFERENCES payments (id),
    version    bigint NOT NULL CHECK (version >= 1),
    kind       text NOT NULL,
    status     text NOT NULL
               CHECK (status IN ('requires_payment_method', 'requires_confirmation',
                                 'requires_action', 'processing', 'requires_capture',
                                 'canceled', 'succeeded')),
    cause_type text NOT NULL CHECK (cause_type IN ('stripe_event', 'api', 'reconcile')),
    cause_id   text,
    data       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_id, version)
);

-- The webhook inbox.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    type         text NOT NULL,
    created      timestamptz NOT NULL,
    livemode     boolean NOT NULL DEFAULT false,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_error   text
);
CREATE INDEX stripe_events_unprocessed ON stripe_events (received_at) WHERE processed_at IS NULL;

CREATE TABLE refunds (
    id               uuid PRIMARY KEY,
    payment_id       uuid NOT NULL REFERENCES payments (id),
    stripe_refund_id text UNIQUE,
    amount           bigint NOT NULL CHECK (amount > 0 AND amount <= 99999999),
    currency         text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    reason           text CHECK (reason IS NULL OR reason IN
                                 ('duplicate', 'fraudulent', 'requested_by_customer')),
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

CREATE TABLE idempotency_keys (
    principal       text NOT NULL,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method          text NOT NULL,
    path            text NOT NULL,
    request_hash    text NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Small key/value store for watermarks (e.g. the last Stripe event reconciled).
CREATE TABLE service_state (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
