-- Charge events carry the card (brand, last4) that PaymentIntent events only name by id.
-- Attempts look their charge up in the inbox by id, whichever of the two arrived first.
CREATE INDEX stripe_events_charge_object ON stripe_events ((payload -> 'data' -> 'object' ->> 'id'))
    WHERE type LIKE 'charge.%';
