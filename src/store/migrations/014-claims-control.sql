-- 014: several tau nodes delivering from one outbox, and the control state they share.
-- A node claims the rows it is about to send: `claimed_by` names it until `claim_until_ms` (its clock). A claim is
-- released (NULL, 0) when the row reaches a final status or the pass ends; an expired claim (the node died mid-send)
-- may be taken by another node, which then treats a row left `sending` as interrupted (provider.ts).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_until_ms INTEGER NOT NULL DEFAULT 0;

-- Shared control: the validated policy set every node runs (`policies`) and the known-good snapshot of every
-- configuration file (`config_lkg`). `generation` grows by one on each change; nodes watch it and apply a new one.
CREATE TABLE control_documents (
  name       TEXT PRIMARY KEY,
  generation INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  documents  TEXT NOT NULL,
  set_by     TEXT NOT NULL,
  trigger    TEXT NOT NULL,
  set_at_ms  INTEGER NOT NULL
);
