-- 020: rate limits count the jobs started in the last minute from per-second totals, kept as jobs are claimed (in the
-- claim's unit of work) and given back when an attempt is (kill switch, a responder at its limit). They counted jobs
-- with an attempt whose row changed in the last minute: a job that started five minutes ago and finished just now
-- counted as started now, and a check read one index entry per job in the window (3,000 at 50 jobs/s) up to the limit.
-- `scope` is `r:<responder>` or `p:<principal>` (a principal's first attempts only: "per actor" counts messages).
CREATE TABLE responder_starts (
  scope  TEXT NOT NULL,
  at_s   INTEGER NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (scope, at_s)
) WITHOUT ROWID;
-- The last minute before the upgrade, as the old count saw it, so a limit holds across it.
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
