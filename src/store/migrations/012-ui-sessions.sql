-- Web control page (/ui): one-time sign-in links and browser sessions. Only sha256 hashes of the tokens are stored.
CREATE TABLE ui_login_tokens (
  token_hash    TEXT PRIMARY KEY,
  principal     TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used_at_ms    INTEGER
);

CREATE TABLE ui_sessions (
  session_hash  TEXT PRIMARY KEY,
  principal     TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);
