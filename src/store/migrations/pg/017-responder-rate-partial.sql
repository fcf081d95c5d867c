-- 017 (PostgreSQL twin of ../017-responder-rate-partial.sql): the rate-limit counts read the index alone.
DROP INDEX responder_jobs_principal;
DROP INDEX responder_jobs_responder;
CREATE INDEX responder_jobs_principal_started ON responder_jobs(principal, updated_at_ms, attempts) WHERE attempts > 0;
CREATE INDEX responder_jobs_responder_started ON responder_jobs(responder, updated_at_ms, attempts) WHERE attempts > 0;
