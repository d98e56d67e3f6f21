-- One index for "this payment's notifications" instead of two: the unique key now leads
-- with payment_id, so it serves the operators' list by payment and the claim's probe for
-- an earlier pending version (endpoint and payment both given). Each notification row is
-- written three times (outbox, claim, answer); one index fewer to keep on the webhook path.
ALTER TABLE notifications DROP CONSTRAINT notifications_endpoint_id_payment_id_version_key;
ALTER TABLE notifications ADD CONSTRAINT notifications_payment_endpoint_version
    UNIQUE (payment_id, endpoint_id, version);
DROP INDEX notifications_payment;
-- No foreign key to merchant_endpoints: its check takes a KEY SHARE lock on the endpoint's
-- row for every notification, and with every concurrent change notifying the same one or
-- two endpoints those locks pile up on one row (a multixact per insert). Endpoints are
-- never deleted (a URL no longer configured keeps its row), so the key guarded nothing.
ALTER TABLE notifications DROP CONSTRAINT notifications_endpoint_id_fkey;
