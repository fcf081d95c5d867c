-- 008 (PostgreSQL twin of ../008-responder-rate-indexes.sql): rate limits look at the last minute of one principal's
-- or one responder's jobs: index them by time.
CREATE INDEX responder_jobs_principal ON responder_jobs(principal, updated_at_ms);
CREATE INDEX responder_jobs_responder ON responder_jobs(responder, updated_at_ms);
