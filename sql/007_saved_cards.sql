-- Saved cards (issue 18): the cards a decline made unusable. The cards themselves live
-- at Stripe (PaymentMethods attached to the customer's Stripe Customer); this table only
-- remembers what a decline did to one, so it is kept for history and not offered again.
-- Forward-only: once landed this file is never edited.

CREATE TABLE disabled_cards (
    payment_method_id text PRIMARY KEY CHECK (length(payment_method_id) BETWEEN 1 AND 255),
    customer_id       uuid NOT NULL REFERENCES customers (id),
    -- The decline code that disabled it (expired_card, lost_card, stolen_card, pickup_card).
    reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
    payment_id        uuid REFERENCES payments (id),
    stripe_event_id   text,
    disabled_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX disabled_cards_customer ON disabled_cards (customer_id);
