-- 002: allowlist, pairing, approvals, capability jobs, hash-chained audit, kill switches, secrets.
CREATE TABLE allowlist (
  actor_key   TEXT PRIMARY KEY,
  transport   TEXT NOT NULL,
  actor_id    TEXT NOT NULL,
  note        TEXT NOT NULL DEFAULT '',
  added_by    TEXT NOT NULL,
  added_at_ms INTEGER NOT NULL
);

CREATE TABLE pairings (
  code           TEXT PRIMARY KEY,
  actor_key      TEXT NOT NULL,
  channel_key    TEXT NOT NULL,
  display        TEXT,
  status         TEXT NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  expires_at_ms  INTEGER NOT NULL,
  decided_by     TEXT,
  decided_at_ms  INTEGER
);
CREATE INDEX pairings_actor ON pairings(actor_key, status);
CREATE INDEX pairings_channel ON pairings(channel_key, status);

CREATE TABLE pairing_attempts (
  id        INTEGER PRIMARY KEY,
  actor_key TEXT NOT NULL,
  at_ms     INTEGER NOT NULL
);
CREATE INDEX pairing_attempts_actor ON pairing_attempts(actor_key, at_ms);

CREATE TABLE approvals (
  id             TEXT PRIMARY KEY,
  capability_id  TEXT NOT NULL,
  command        TEXT NOT NULL,
  args           TEXT NOT NULL,
  args_hash      TEXT NOT NULL,
  requester      TEXT NOT NULL,
  requester_role TEXT NOT NULL,
  surface        TEXT NOT NULL,
  approval       TEXT NOT NULL,
  status         TEXT NOT NULL,
  reply_target   TEXT,
  created_at_ms  INTEGER NOT NULL,
  expires_at_ms  INTEGER NOT NULL,
  decided_by     TEXT,
  decided_at_ms  INTEGER
);

CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY,
  job_id        TEXT NOT NULL UNIQUE,
  event_id      TEXT,
  capability_id TEXT NOT NULL,
  command       TEXT NOT NULL,
  args          TEXT NOT NULL,
  principal     TEXT NOT NULL,
  role          TEXT NOT NULL,
  approval_id   TEXT,
  status        TEXT NOT NULL,
  reply_target  TEXT,
  result        TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX jobs_status ON jobs(status);

CREATE TABLE audit (
  seq         INTEGER PRIMARY KEY,
  at_ms       INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  surface     TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT NOT NULL,
  args        TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  reason_code TEXT NOT NULL,
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
-- Append-only: edits and deletes are refused by the database itself; `tau audit verify` catches edits made around it.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

CREATE TABLE killswitches (
  scope      TEXT PRIMARY KEY,
  is_on      INTEGER NOT NULL,
  reason     TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  at_ms      INTEGER NOT NULL
);

CREATE TABLE secrets (
  id            TEXT PRIMARY KEY,
  value         TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
