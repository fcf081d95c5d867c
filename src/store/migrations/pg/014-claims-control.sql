-- 014 (PostgreSQL twin of ../014-claims-control.sql): several tau nodes delivering from one outbox, and the control
-- state they share. A node claims the rows it is about to send (`FOR UPDATE SKIP LOCKED` in the claim transaction):
-- `claimed_by` names it until `claim_until_ms` (its clock). A claim is released (NULL, 0) when the row reaches a final
-- status or the pass ends; an expired claim (the node died mid-send) may be taken by another node.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN claim_until_ms BIGINT NOT NULL DEFAULT 0;

-- Shared control: the validated policy set every node runs (`policies`) and the known-good snapshot of every
-- configuration file (`config_lkg`). `generation` grows by one on each change; nodes watch it and apply a new one.
CREATE TABLE control_documents (
  name       TEXT COLLATE "C" PRIMARY KEY,
  generation BIGINT NOT NULL,
  sha256     TEXT COLLATE "C" NOT NULL,
  documents  TEXT COLLATE "C" NOT NULL,
  set_by     TEXT COLLATE "C" NOT NULL,
  trigger    TEXT COLLATE "C" NOT NULL,
  set_at_ms  BIGINT NOT NULL
);
