-- 010 (PostgreSQL twin of ../010-actor-aliases.sql): actor id changes reported by the provider map the old actor key to
-- the new one, so allowlist entries and pairings made for the old id follow the person.
CREATE TABLE actor_aliases (
  old_key         TEXT COLLATE "C" NOT NULL,
  new_key         TEXT COLLATE "C" NOT NULL,
  source_event_id TEXT COLLATE "C",
  at_ms           BIGINT NOT NULL,
  PRIMARY KEY (old_key, new_key)
);
CREATE INDEX actor_aliases_new ON actor_aliases(new_key);

-- The email loop breaker counts the replies queued to one address in the last hour: index the outbox by recipient.
CREATE INDEX outbox_by_conversation ON outbox(transport, conversation_id, created_at_ms);
