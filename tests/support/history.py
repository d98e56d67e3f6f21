"""Stored history of realistic shape, made in bulk by PostgreSQL itself: what a webhook's
cost must not grow with (the query-plan test at 20,000 rows, ``make bench`` at 1,000,000).

Per payment: one attempt, one charge event, one PaymentIntent event and one timeline row;
a refund for every tenth. Succeeded payments whose ids (``md5('p' || i)``) and Stripe ids
(``pi_bulk_<i>``, ``ch_bulk_<i>``, ``cs_bulk_<i>`` for every fourth) are known.
"""

from __future__ import annotations


def history_sql(rows: int) -> str:
    """The statements that store `rows` payments' history. Its caller analyses it: the
    query-plan test with ANALYZE, ``make bench`` with VACUUM (ANALYZE) on a connection of
    its own (``tests/bench/setup.py``), so the tables are not analysed twice."""
    return f"""
INSERT INTO payments (id, order_id, flow, amount, currency, status, amount_captured,
                      stripe_payment_intent_id, stripe_checkout_session_id)
SELECT md5('p' || i)::uuid, 'bulk-' || i,
       CASE WHEN i % 4 = 0 THEN 'checkout_session' ELSE 'payment_intent' END,
       1000 + i, 'usd', 'succeeded', 1000 + i, 'pi_bulk_' || i,
       CASE WHEN i % 4 = 0 THEN 'cs_bulk_' || i END
FROM generate_series(1, {rows}) AS i;

INSERT INTO payment_events (payment_id, version, kind, status, cause_type)
SELECT md5('p' || i)::uuid, 1, 'created', 'succeeded', 'api'
FROM generate_series(1, {rows}) AS i;

INSERT INTO payment_attempts (payment_id, outcome, stripe_event_id, stripe_charge_id,
                              card_brand, card_last4, occurred_at)
SELECT md5('p' || i)::uuid, 'succeeded', 'evt_bulk_pi_' || i, 'ch_bulk_' || i, 'visa',
       '4242', now()
FROM generate_series(1, {rows}) AS i;

INSERT INTO stripe_events (id, type, created, payload, processed_at)
SELECT 'evt_bulk_' || kind || '_' || i,
       CASE kind WHEN 'ch' THEN 'charge.succeeded' ELSE 'payment_intent.succeeded' END,
       now(),
       jsonb_build_object('data', jsonb_build_object('object', jsonb_build_object(
           'id', CASE kind WHEN 'ch' THEN 'ch_bulk_' ELSE 'pi_bulk_' END || i))),
       now()
FROM generate_series(1, {rows}) AS i, (VALUES ('ch'), ('pi')) AS k (kind);

INSERT INTO refunds (id, payment_id, stripe_refund_id, amount, currency, status)
SELECT md5('r' || i)::uuid, md5('p' || i)::uuid, 're_bulk_' || i, 100, 'usd', 'succeeded'
FROM generate_series(10, {rows}, 10) AS i;

"""  # noqa: S608 - an integer only
