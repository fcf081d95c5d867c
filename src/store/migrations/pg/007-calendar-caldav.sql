-- 007 (PostgreSQL twin of ../007-calendar-caldav.sql): tau's copy of each CalDAV calendar it reads (objects indexed by
-- the span their occurrences can lie in), ICS sync plans and the last answer of each server.
CREATE TABLE calendar_collections (
  account          TEXT COLLATE "C" NOT NULL,            -- '<server url>|<user>': copies of two accounts never mix
  url              TEXT COLLATE "C" NOT NULL,            -- absolute collection URL
  kind             TEXT COLLATE "C" NOT NULL,            -- 'calendar' | 'addressbook'
  display_name     TEXT COLLATE "C" NOT NULL,
  ctag             TEXT COLLATE "C",
  sync_token       TEXT COLLATE "C",
  supports_sync    BIGINT NOT NULL DEFAULT 0,
  discovered_at_ms BIGINT NOT NULL,
  checked_at_ms    BIGINT,                               -- last time the server was asked whether the collection changed
  synced_at_ms     BIGINT,                               -- last time objects were copied; NULL = never
  PRIMARY KEY (account, url)
);

CREATE TABLE calendar_objects (
  account       TEXT COLLATE "C" NOT NULL,
  calendar_url  TEXT COLLATE "C" NOT NULL,
  href          TEXT COLLATE "C" NOT NULL,               -- absolute object URL
  etag          TEXT COLLATE "C",
  uid           TEXT COLLATE "C",
  data          TEXT COLLATE "C" NOT NULL,
  span_start_ms BIGINT NOT NULL,                         -- occurrences lie within [span_start_ms, span_end_ms)
  span_end_ms   BIGINT NOT NULL,
  invalid       TEXT COLLATE "C",                        -- why the object could not be read (still listed as refused)
  PRIMARY KEY (account, calendar_url, href)
);
CREATE INDEX calendar_objects_span ON calendar_objects(account, calendar_url, span_start_ms, span_end_ms);
CREATE INDEX calendar_objects_uid ON calendar_objects(account, calendar_url, uid);

CREATE TABLE calendar_sync_plans (
  plan_id          TEXT COLLATE "C" PRIMARY KEY,
  account          TEXT COLLATE "C" NOT NULL,
  calendar_url     TEXT COLLATE "C" NOT NULL,
  source_key       TEXT COLLATE "C" NOT NULL,            -- 'src-' + hash of the source (URLs may carry tokens)
  source_label     TEXT COLLATE "C" NOT NULL,            -- the source with any query string removed
  source_sha256    TEXT COLLATE "C" NOT NULL,
  base_sync_token  TEXT COLLATE "C",                     -- the calendar's version the plan was made against
  base_ctag        TEXT COLLATE "C",
  actions          TEXT COLLATE "C" NOT NULL,            -- JSON array of creates, updates and deletes
  counts           TEXT COLLATE "C" NOT NULL,            -- JSON {create, update, delete, unchanged, skipped}
  status           TEXT COLLATE "C" NOT NULL,            -- ready | executing | executed | failed
  result           TEXT COLLATE "C",                     -- JSON outcome of execute
  requested_by     TEXT COLLATE "C" NOT NULL,
  created_at_ms    BIGINT NOT NULL,
  expires_at_ms    BIGINT NOT NULL,
  executed_at_ms   BIGINT
);

CREATE TABLE calendar_server_facts (
  account   TEXT COLLATE "C" PRIMARY KEY,
  ok        BIGINT NOT NULL,
  reason    TEXT COLLATE "C" NOT NULL,
  detail    TEXT COLLATE "C" NOT NULL,
  at_ms     BIGINT NOT NULL
);
