-- 009 (PostgreSQL twin of ../009-buttons.sql): button tokens (`tau:<random>`); what a button does is stored here, so a
-- forged or unknown token approves nothing, an expired one is refused, and a used one answers "already decided".
CREATE TABLE button_tokens (
  token           TEXT COLLATE "C" PRIMARY KEY,
  action          TEXT COLLATE "C" NOT NULL,      -- approve | deny | pair_approve | pair_deny
  target_id       TEXT COLLATE "C" NOT NULL,      -- approval id or pairing code
  target_hash     TEXT COLLATE "C",               -- approvals: the argument-hash prefix the prompt quoted
  transport       TEXT COLLATE "C" NOT NULL,      -- where the prompt was posted: a press from elsewhere is refused
  conversation_id TEXT COLLATE "C" NOT NULL,
  created_at_ms   BIGINT NOT NULL,
  expires_at_ms   BIGINT NOT NULL,
  used_at_ms      BIGINT,
  used_by         TEXT COLLATE "C"
);
CREATE INDEX button_tokens_target ON button_tokens(target_id);
CREATE INDEX button_tokens_expiry ON button_tokens(expires_at_ms);

-- A structured reply (buttons, formatting) or a non-message delivery, as JSON; NULL on plain replies and older rows.
ALTER TABLE outbox ADD COLUMN rich TEXT COLLATE "C";
