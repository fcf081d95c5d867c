-- 011 (PostgreSQL twin of ../011-secrets-sealed.sql): integration secrets sealed at rest (AES-256-GCM,
-- src/store/secrets-store.ts). `value` holds base64(iv ‖ tag ‖ ciphertext) under the key named by `key_id`; rows from
-- before this migration keep key_id NULL (plain text) until the store seals them on its first writable open.
ALTER TABLE secrets ADD COLUMN key_id TEXT COLLATE "C";
ALTER TABLE secrets ADD COLUMN created_at_ms BIGINT;
UPDATE secrets SET created_at_ms = updated_at_ms;
