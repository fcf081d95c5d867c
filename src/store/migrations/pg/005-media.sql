-- 005 (PostgreSQL twin of ../005-media.sql): one media record per attachment of an event, and results by stable file
-- identity so a duplicate attachment reuses the earlier result.
CREATE TABLE media_records (
  event_id      TEXT COLLATE "C" NOT NULL,
  idx           BIGINT NOT NULL,
  kind          TEXT COLLATE "C" NOT NULL,
  status        TEXT COLLATE "C" NOT NULL,
  reason        TEXT COLLATE "C" NOT NULL,
  summary       TEXT COLLATE "C",
  file_identity TEXT COLLATE "C",
  detected_mime TEXT COLLATE "C",
  bytes         BIGINT,
  at_ms         BIGINT NOT NULL,
  PRIMARY KEY (event_id, idx)
);
CREATE INDEX media_records_at ON media_records(at_ms);

CREATE TABLE media_cache (
  file_identity TEXT COLLATE "C" PRIMARY KEY,
  kind          TEXT COLLATE "C" NOT NULL,
  reason        TEXT COLLATE "C" NOT NULL,
  summary       TEXT COLLATE "C" NOT NULL,
  detected_mime TEXT COLLATE "C",
  at_ms         BIGINT NOT NULL
);
