-- Responder jobs: an admitted message routed to an asynchronous responder (llm, webhook) becomes one row,
-- inserted in the same transaction as its decision. queued → running (attempts + 1, committed before the model
-- call) → done | failed. A row found running at startup was cut off by a crash: it runs again once, never twice.
CREATE TABLE responder_jobs (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id           TEXT NOT NULL UNIQUE,
  event_id         TEXT NOT NULL,
  responder        TEXT NOT NULL,
  conversation_key TEXT NOT NULL,
  session_key      TEXT NOT NULL,
  principal        TEXT NOT NULL,
  role             TEXT NOT NULL,
  envelope         TEXT NOT NULL,
  route            TEXT NOT NULL,
  reply_target     TEXT NOT NULL,
  status           TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  not_before_ms    INTEGER NOT NULL DEFAULT 0,
  reason           TEXT,
  reply_chars      INTEGER NOT NULL DEFAULT 0,
  reply_chunks     INTEGER NOT NULL DEFAULT 0,
  created_at_ms    INTEGER NOT NULL,
  updated_at_ms    INTEGER NOT NULL
);
CREATE INDEX responder_jobs_open ON responder_jobs(status, conversation_key, seq);
CREATE INDEX responder_jobs_updated ON responder_jobs(updated_at_ms);

-- Conversation memory per route session key (bounded by count and age when read; pruned by age).
CREATE TABLE responder_history (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  session_key      TEXT NOT NULL,
  conversation_key TEXT NOT NULL,
  principal        TEXT NOT NULL,
  role             TEXT NOT NULL,
  content          TEXT NOT NULL,
  job_id           TEXT NOT NULL,
  at_ms            INTEGER NOT NULL
);
CREATE INDEX responder_history_session ON responder_history(session_key, seq);
CREATE INDEX responder_history_actor ON responder_history(principal, conversation_key);

-- One row per model or webhook call: usage telemetry, rate limits and the daily token budget read it.
CREATE TABLE responder_calls (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id         TEXT NOT NULL,
  responder      TEXT NOT NULL,
  transport      TEXT NOT NULL,
  provider       TEXT NOT NULL,
  model          TEXT NOT NULL,
  principal      TEXT NOT NULL,
  input_tokens   INTEGER NOT NULL DEFAULT 0,
  output_tokens  INTEGER NOT NULL DEFAULT 0,
  cached_tokens  INTEGER NOT NULL DEFAULT 0,
  ttft_ms        INTEGER,
  latency_ms     INTEGER NOT NULL,
  reason         TEXT NOT NULL,
  at_ms          INTEGER NOT NULL
);
CREATE INDEX responder_calls_responder ON responder_calls(responder, at_ms);
CREATE INDEX responder_calls_principal ON responder_calls(principal, at_ms);

-- Side-effecting tool runs of a job, so a job repeated after a crash answers the same call from here, not twice.
CREATE TABLE responder_tool_runs (
  job_id    TEXT NOT NULL,
  call_key  TEXT NOT NULL,
  result    TEXT NOT NULL,
  at_ms     INTEGER NOT NULL,
  PRIMARY KEY (job_id, call_key)
);
