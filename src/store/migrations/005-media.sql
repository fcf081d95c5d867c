-- Media understanding: one record per attachment of an event (processed | skipped | failed, reason code, summary),
-- shown by `tau traces` and `tau media inspect`; and results by stable file identity, so a duplicate attachment
-- (Telegram file_unique_id, WhatsApp media sha256, Discord attachment id) reuses the earlier result.
CREATE TABLE media_records (
  event_id      TEXT NOT NULL,
  idx           INTEGER NOT NULL,
  kind          TEXT NOT NULL,
  status        TEXT NOT NULL,
  reason        TEXT NOT NULL,
  summary       TEXT,
  file_identity TEXT,
  detected_mime TEXT,
  bytes         INTEGER,
  at_ms         INTEGER NOT NULL,
  PRIMARY KEY (event_id, idx)
);
CREATE INDEX media_records_at ON media_records(at_ms);

CREATE TABLE media_cache (
  file_identity TEXT PRIMARY KEY,
  kind          TEXT NOT NULL,
  reason        TEXT NOT NULL,
  summary       TEXT NOT NULL,
  detected_mime TEXT,
  at_ms         INTEGER NOT NULL
);
