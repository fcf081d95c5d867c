-- 012 (PostgreSQL twin of ../012-ui-sessions.sql): web control page (/ui) one-time sign-in links and browser sessions.
-- Only sha256 hashes of the tokens are stored.
CREATE TABLE ui_login_tokens (
  token_hash    TEXT COLLATE "C" PRIMARY KEY,
  principal     TEXT COLLATE "C" NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used_at_ms    BIGINT
);

CREATE TABLE ui_sessions (
  session_hash  TEXT COLLATE "C" PRIMARY KEY,
  principal     TEXT COLLATE "C" NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT
);
