-- The fan-out brokers' catch-up reads the payments changed since a watermark
-- (service/db/recent_changes.py); payments_unfinished misses the change that finishes one.
CREATE INDEX payments_updated_at ON payments (updated_at);
