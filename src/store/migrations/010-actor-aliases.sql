-- Actor id changes reported by the provider (WhatsApp `user_changed_user_id` / `user_changed_number` system
-- messages): the old actor key maps to the new one, so allowlist entries and pairings made for the old id follow
-- the person (the access stage looks the new key's predecessors up).
CREATE TABLE actor_aliases (
  old_key         TEXT NOT NULL,
  new_key         TEXT NOT NULL,
  source_event_id TEXT,
  at_ms           INTEGER NOT NULL,
  PRIMARY KEY (old_key, new_key)
) WITHOUT ROWID;
CREATE INDEX actor_aliases_new ON actor_aliases(new_key);

-- The email loop breaker counts the replies queued to one address in the last hour: index the outbox by recipient.
CREATE INDEX outbox_by_conversation ON outbox(transport, conversation_id, created_at_ms);
