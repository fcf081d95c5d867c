-- 013: several tau nodes sharing one store. Each node writes a heartbeat row every 2 s (its health, queue depth and
-- the leases it holds as JSON in `info`); a lease names the one holder of a single-poller job (`poller:telegram:<bot>`)
-- until `expires_at_ms`: `holder` is the node id, `instance` the process on it (two processes of one node never share
-- a lease). Times come from the nodes' clocks. `fence` grows by one each time the holder (or its process) changes.
CREATE TABLE cluster_nodes (
  node_id         TEXT PRIMARY KEY,
  started_at_ms   INTEGER NOT NULL,
  heartbeat_at_ms INTEGER NOT NULL,
  version         TEXT NOT NULL,
  info            TEXT NOT NULL
);

CREATE TABLE leases (
  name           TEXT PRIMARY KEY,
  holder         TEXT NOT NULL,
  instance       TEXT NOT NULL,
  acquired_at_ms INTEGER NOT NULL,
  expires_at_ms  INTEGER NOT NULL,
  fence          INTEGER NOT NULL
);
