-- 020 (PostgreSQL twin of ../020-responder-starts.sql): rate limits count the jobs started in the last minute from
-- per-second totals kept as jobs are claimed, instead of the job rows that changed in the last minute.
CREATE TABLE responder_starts (
  scope  TEXT COLLATE "C" NOT NULL,
  at_s   BIGINT NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (scope, at_s)
);
INSERT INTO responder_starts (scope, at_s, n)
  SELECT 'r:' || responder, updated_at_ms / 1000, COUNT(*) FROM responder_jobs
  WHERE attempts > 0 AND updated_at_ms >= (SELECT MAX(updated_at_ms) FROM responder_jobs) - 60000
  GROUP BY responder, updated_at_ms / 1000;
INSERT INTO responder_starts (scope, at_s, n)
  SELECT 'p:' || principal, updated_at_ms / 1000, COUNT(*) FROM responder_jobs
  WHERE attempts > 0 AND updated_at_ms >= (SELECT MAX(updated_at_ms) FROM responder_jobs) - 60000
  GROUP BY principal, updated_at_ms / 1000;
DROP INDEX responder_jobs_principal_started;
DROP INDEX responder_jobs_responder_started;
