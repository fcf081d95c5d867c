-- 001: cursors, processed events (dedupe + traces), outbox and chunks, runtime events, key/value state.
CREATE TABLE ingress_cursors (
  transport     TEXT PRIMARY KEY,
  file_ino      INTEGER NOT NULL,
  byte_offset   INTEGER NOT NULL,
  line_no       INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

-- One row per processed event: the dedupe key and its route trace.
CREATE TABLE events (
  seq             INTEGER PRIMARY KEY,
  event_id        TEXT NOT NULL UNIQUE,
  transport       TEXT NOT NULL,
  kind            TEXT NOT NULL,
  chat_type       TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  actor_id        TEXT,
  occurred_at_ms  INTEGER NOT NULL,
  processed_at_ms INTEGER NOT NULL,
  outcome         TEXT NOT NULL,
  reason          TEXT NOT NULL,
  decisions       TEXT NOT NULL,
  route           TEXT
);

CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  outbox_id       TEXT NOT NULL UNIQUE,
  event_id        TEXT,
  transport       TEXT NOT NULL,
  account_id      TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  thread_id       TEXT,
  reply_to        TEXT,
  mode            TEXT NOT NULL,
  purpose         TEXT NOT NULL,
  status          TEXT NOT NULL,
  reason          TEXT,
  chunk_count     INTEGER NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
  created_at_ms   INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL
);
CREATE INDEX outbox_pending ON outbox(status, next_attempt_at_ms) WHERE status IN ('queued', 'retry_scheduled', 'sending');
CREATE INDEX outbox_attention ON outbox(status) WHERE status IN ('dead_letter', 'unknown', 'failed');

CREATE TABLE outbox_chunks (
  outbox_id     TEXT NOT NULL,
  idx           INTEGER NOT NULL,
  body          TEXT NOT NULL,
  status        TEXT NOT NULL,
  reason        TEXT,
  receipt       TEXT,
  provider_message_id TEXT,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (outbox_id, idx)
) WITHOUT ROWID;
CREATE INDEX outbox_chunks_provider_id ON outbox_chunks(provider_message_id) WHERE provider_message_id IS NOT NULL;

CREATE TABLE runtime_events (
  id        INTEGER PRIMARY KEY,
  at_ms     INTEGER NOT NULL,
  event     TEXT NOT NULL,
  health    TEXT NOT NULL,
  reason_codes TEXT NOT NULL,
  detail    TEXT NOT NULL
);

CREATE TABLE kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);

CREATE TABLE conversation_state (
  conversation_key     TEXT PRIMARY KEY,
  last_responder_at_ms INTEGER NOT NULL
);

CREATE TABLE quarantine (
  id          INTEGER PRIMARY KEY,
  transport   TEXT NOT NULL,
  file        TEXT NOT NULL,
  line_no     INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  detail      TEXT NOT NULL,
  at_ms       INTEGER NOT NULL
);
