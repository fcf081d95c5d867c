-- 006: observability — the watchdog's alert keys (dedupe, cooldown), every alert it posted, and incident records with
-- their evidence log (PRODUCT.md §10, the operations runbook's evidence fields).

-- One row per alert key (`kill_switch:outbound`, `runner_stale`, `health`, …): is it on, since when, was this episode
-- posted, and when a post last went out (the cooldown starts there).
CREATE TABLE alert_state (
  alert_key           TEXT PRIMARY KEY,
  kind                TEXT NOT NULL,
  severity            TEXT NOT NULL,
  firing              INTEGER NOT NULL,
  since_ms            INTEGER NOT NULL,
  notified            INTEGER NOT NULL,
  last_notified_at_ms INTEGER NOT NULL DEFAULT 0,
  summary             TEXT NOT NULL
) WITHOUT ROWID;

-- Every alert message the watchdog queued, with the outbox rows that carry it (one per ops chat).
CREATE TABLE ops_alerts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms       INTEGER NOT NULL,
  alert_key   TEXT NOT NULL,
  kind        TEXT NOT NULL,
  severity    TEXT NOT NULL,
  transition  TEXT NOT NULL CHECK (transition IN ('firing', 'changed', 'recovered')),
  health      TEXT NOT NULL,
  text        TEXT NOT NULL,
  outbox_ids  TEXT NOT NULL
);
CREATE INDEX ops_alerts_at ON ops_alerts(at_ms);

-- Incidents: the evidence the operations runbook asks for, one row per incident, updated as it moves
-- open → contained → verified → closed.
CREATE TABLE incidents (
  seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id         TEXT NOT NULL UNIQUE,
  status              TEXT NOT NULL CHECK (status IN ('open', 'contained', 'verified', 'closed')),
  severity            TEXT NOT NULL,
  scope               TEXT NOT NULL,
  trigger_source      TEXT NOT NULL,
  failure_mode        TEXT NOT NULL,
  containment         TEXT,
  rollback_action     TEXT,
  verification        TEXT,
  verification_result TEXT,
  owner               TEXT NOT NULL,
  follow_up           TEXT,
  opened_at_ms        INTEGER NOT NULL,
  updated_at_ms       INTEGER NOT NULL,
  closed_at_ms        INTEGER
);
CREATE INDEX incidents_open ON incidents(status) WHERE status <> 'closed';

-- Every incident action (open, note, contain, verify, close), linked to the audit row written with it.
CREATE TABLE incident_log (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id  TEXT NOT NULL,
  at_ms        INTEGER NOT NULL,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  detail       TEXT NOT NULL,
  audit_seq    INTEGER NOT NULL,
  audit_hash   TEXT NOT NULL
);
CREATE INDEX incident_log_by_incident ON incident_log(incident_id, seq);

-- Runtime events by name and time (health history, exports).
CREATE INDEX runtime_events_by_event ON runtime_events(event, at_ms);
