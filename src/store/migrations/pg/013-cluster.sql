-- 013: several tau nodes sharing one store. Each node writes a heartbeat row every 2 s (its health, queue depth and
-- the leases it holds as JSON in `info`); a lease names the one holder of a single-poller job (`poller:telegram:<bot>`)
-- until `expires_at_ms`: `holder` is the node id, `instance` the process on it (two processes of one node never share
-- a lease). Times come from the nodes' clocks. `fence` grows by one each time the holder (or its process) changes.
CREATE TABLE cluster_nodes (
  node_id         TEXT COLLATE "C" PRIMARY KEY,
  started_at_ms   BIGINT NOT NULL,
  heartbeat_at_ms BIGINT NOT NULL,
  version         TEXT COLLATE "C" NOT NULL,
  info            TEXT COLLATE "C" NOT NULL
);

CREATE TABLE leases (
  name           TEXT COLLATE "C" PRIMARY KEY,
  holder         TEXT COLLATE "C" NOT NULL,
  instance       TEXT COLLATE "C" NOT NULL,
  acquired_at_ms BIGINT NOT NULL,
  expires_at_ms  BIGINT NOT NULL,
  fence          BIGINT NOT NULL
);
