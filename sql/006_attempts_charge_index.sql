-- Every charge.* event completes its attempt's card by charge id
-- (fill_attempt_card: UPDATE payment_attempts ... WHERE stripe_charge_id = $1): without an
-- index that is a full scan, and the webhook's cost grows with history.
CREATE INDEX payment_attempts_charge ON payment_attempts (stripe_charge_id)
    WHERE stripe_charge_id IS NOT NULL;
