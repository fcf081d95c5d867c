-- Calendars over CalDAV: tau's copy of each calendar it reads (objects indexed by the span their occurrences can lie
-- in, so a one-week listing of a 10k-event calendar reads a few rows), the collection's change tags, ICS sync plans
-- (plan → execute linked by plan id, like send preview → execute) and the last answer of each server (health).
CREATE TABLE calendar_collections (
  account          TEXT NOT NULL,            -- '<server url>|<user>': copies of two accounts never mix
  url              TEXT NOT NULL,            -- absolute collection URL
  kind             TEXT NOT NULL,            -- 'calendar' | 'addressbook'
  display_name     TEXT NOT NULL,
  ctag             TEXT,
  sync_token       TEXT,
  supports_sync    INTEGER NOT NULL DEFAULT 0,
  discovered_at_ms INTEGER NOT NULL,
  checked_at_ms    INTEGER,                  -- last time the server was asked whether the collection changed
  synced_at_ms     INTEGER,                  -- last time objects were copied; NULL = never
  PRIMARY KEY (account, url)
);

CREATE TABLE calendar_objects (
  account       TEXT NOT NULL,
  calendar_url  TEXT NOT NULL,
  href          TEXT NOT NULL,               -- absolute object URL
  etag          TEXT,
  uid           TEXT,
  data          TEXT NOT NULL,
  span_start_ms INTEGER NOT NULL,            -- occurrences lie within [span_start_ms, span_end_ms)
  span_end_ms   INTEGER NOT NULL,
  invalid       TEXT,                        -- why the object could not be read (it is still listed as refused)
  PRIMARY KEY (account, calendar_url, href)
);
-- Covering both bounds: a window query filters in the index and reads only the rows it returns.
CREATE INDEX calendar_objects_span ON calendar_objects(account, calendar_url, span_start_ms, span_end_ms);
CREATE INDEX calendar_objects_uid ON calendar_objects(account, calendar_url, uid);

CREATE TABLE calendar_sync_plans (
  plan_id          TEXT PRIMARY KEY,
  account          TEXT NOT NULL,
  calendar_url     TEXT NOT NULL,
  source_key       TEXT NOT NULL,            -- 'src-' + hash of the source (URLs may carry tokens; never stored)
  source_label     TEXT NOT NULL,            -- the source with any query string removed
  source_sha256    TEXT NOT NULL,
  base_sync_token  TEXT,                     -- the calendar's version the plan was made against
  base_ctag        TEXT,
  actions          TEXT NOT NULL,            -- JSON array of creates, updates and deletes
  counts           TEXT NOT NULL,            -- JSON {create, update, delete, unchanged, skipped}
  status           TEXT NOT NULL,            -- ready | executing | executed | failed
  result           TEXT,                     -- JSON outcome of execute
  requested_by     TEXT NOT NULL,
  created_at_ms    INTEGER NOT NULL,
  expires_at_ms    INTEGER NOT NULL,
  executed_at_ms   INTEGER
);

CREATE TABLE calendar_server_facts (
  account   TEXT PRIMARY KEY,
  ok        INTEGER NOT NULL,
  reason    TEXT NOT NULL,
  detail    TEXT NOT NULL,
  at_ms     INTEGER NOT NULL
);
