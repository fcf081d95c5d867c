-- Rate limits count one principal's or one responder's jobs started in the last minute (`attempts > 0`): with the
-- condition and the column in the index, the count is answered from the index alone — no row read per job in the window (at 50
-- conversations/s, 3,000 rows for each of two checks per job).
DROP INDEX responder_jobs_principal;
DROP INDEX responder_jobs_responder;
CREATE INDEX responder_jobs_principal_started ON responder_jobs(principal, updated_at_ms, attempts) WHERE attempts > 0;
CREATE INDEX responder_jobs_responder_started ON responder_jobs(responder, updated_at_ms, attempts) WHERE attempts > 0;
