-- 019: partial indexes state their conditions as OR-ed equalities instead of IN lists. SQLite evaluates a
-- partial index's condition on every insert and update of the table, matching or not, and an IN list there is slow
-- (the two conditions cost ≈ 3.7 µs of an outbox insert's ≈ 12 µs, scripts in BENCHMARKS.md). The store's queries
-- repeat the new conditions word for word (outbox-store.ts, comms-store.ts): SQLite uses a partial index only for a term that matches.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox(status, next_attempt_at_ms) WHERE status = 'queued' OR status = 'retry_scheduled' OR status = 'sending';
DROP INDEX outbox_attention;
CREATE INDEX outbox_attention ON outbox(status) WHERE status = 'dead_letter' OR status = 'unknown' OR status = 'failed';
DROP INDEX comms_deliveries_retry;
CREATE INDEX comms_deliveries_retry ON comms_deliveries(status, id) WHERE (status = 'failed' OR status = 'timeout') AND live = 1;
