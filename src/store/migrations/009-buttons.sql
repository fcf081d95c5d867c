-- 009: buttons. A button carries an opaque token (`tau:<random>`); what it does is stored here, so a forged or unknown
-- token approves nothing, an expired one is refused, and a used one answers "already decided" (one-shot).
CREATE TABLE button_tokens (
  token           TEXT PRIMARY KEY,
  action          TEXT NOT NULL,      -- approve | deny | pair_approve | pair_deny
  target_id       TEXT NOT NULL,      -- approval id or pairing code
  target_hash     TEXT,               -- approvals: the argument-hash prefix the prompt quoted
  transport       TEXT NOT NULL,      -- where the prompt was posted: a press from elsewhere is refused
  conversation_id TEXT NOT NULL,
  created_at_ms   INTEGER NOT NULL,
  expires_at_ms   INTEGER NOT NULL,
  used_at_ms      INTEGER,
  used_by         TEXT
) WITHOUT ROWID;
CREATE INDEX button_tokens_target ON button_tokens(target_id);
CREATE INDEX button_tokens_expiry ON button_tokens(expires_at_ms);

-- A structured reply (buttons, formatting) or a non-message delivery (answer a press, edit the prompt), as JSON.
-- NULL on rows written before 009 and on plain replies: those are sent as plain text, as before.
ALTER TABLE outbox ADD COLUMN rich TEXT;
