-- 019 (PostgreSQL twin of ../019-partial-index-conditions.sql): the same conditions as OR-ed equalities, so both
-- engines hold one schema and the store's shared queries state exactly what the indexes do.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox(status, next_attempt_at_ms) WHERE status = 'queued' OR status = 'retry_scheduled' OR status = 'sending';
DROP INDEX outbox_attention;
CREATE INDEX outbox_attention ON outbox(status) WHERE status = 'dead_letter' OR status = 'unknown' OR status = 'failed';
DROP INDEX comms_deliveries_retry;
CREATE INDEX comms_deliveries_retry ON comms_deliveries(status, id) WHERE (status = 'failed' OR status = 'timeout') AND live = 1;
