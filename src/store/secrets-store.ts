/**
 * @module Store family: the integration secret store (table `secrets`), sealed at rest with AES-256-GCM — a random
 * 12-byte IV per value, the secret's id as associated data (a value moved to another id does not open), the key's id
 * beside each value (secrets-key.ts). Values go only to callers that use them; listings never carry them. Rows from
 * before migration 011 (plain text, `key_id` NULL) are sealed on first open, with SQLite's secure_delete on and the WAL
 * truncated, so no plain-text copy stays in the database files.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import { TauError } from "../contracts/errors.ts";
import type { Db } from "./db.ts";
import { createKeyring, secretsKeyId, type Keyring, type SecretsKey, type SecretsKeyOptions } from "./secrets-key.ts";

const IV_BYTES = 12;
const TAG_BYTES = 16;

function aad(id: string): Buffer {
  return Buffer.from(`tau-secret:v1:${id}`);
}

/**
 * A provider's short-lived credential sealed for the state it passes through (a Discord interaction token in ingress,
 * job rows and the outbox): `tau-sealed:v1:<key id>:` + base64(iv ‖ tag ‖ ciphertext), its own associated data.
 */
export const SEALED_TOKEN_PREFIX = "tau-sealed:v1:";
const TOKEN_AAD = Buffer.from("tau-token:v1");

/** base64(iv ‖ tag ‖ ciphertext). */
function seal(key: SecretsKey, id: string, value: string, data: Buffer = aad(id)): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv("aes-256-gcm", key.key, iv);
  c.setAAD(data);
  const ct = Buffer.concat([c.update(value, "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64");
}

function open(key: SecretsKey, id: string, sealed: string, data: Buffer = aad(id)): string {
  const buf = Buffer.from(sealed, "base64");
  try {
    const d = createDecipheriv("aes-256-gcm", key.key, buf.subarray(0, IV_BYTES));
    d.setAAD(data);
    d.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([d.update(buf.subarray(IV_BYTES + TAG_BYTES)), d.final()]).toString("utf8");
  } catch (err) {
    throw new TauError("SECRETS_VALUE_UNREADABLE", `secret ${id} does not open with key ${key.id} from ${key.source}`, {
      cause: err,
      hint: "the stored value was altered or belongs to another state; set it again with tau secrets set",
    });
  }
}

interface Row {
  id: string;
  value: string;
  key_id: string | null;
}

/** What `tau secrets list` shows of a stored secret: never its value. */
export interface StoredSecretInfo {
  id: string;
  key_id: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export function createSecretsStore(db: Db, keys: SecretsKeyOptions = { keyFile: null }) {
  const keyring: Keyring = createKeyring(keys);
  // Prepared on first use, not at open: a damaged secrets table must not stop tau from starting (preflight reports
  // it as `credential_store_unreadable`).
  let q: ReturnType<typeof prepare> | null = null;
  const prepare = () => ({
    get: db.prepare<[string], Row>("SELECT id, value, key_id FROM secrets WHERE id = ?"),
    all: db.prepare<[], Row>("SELECT id, value, key_id FROM secrets ORDER BY id"),
    plain: db.prepare<[], Row>("SELECT id, value, key_id FROM secrets WHERE key_id IS NULL ORDER BY id"),
    put: db.prepare(
      `INSERT INTO secrets (id, value, key_id, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET value = excluded.value, key_id = excluded.key_id, updated_at_ms = excluded.updated_at_ms`,
    ),
    reseal: db.prepare("UPDATE secrets SET value = ?, key_id = ? WHERE id = ?"),
    delete: db.prepare("DELETE FROM secrets WHERE id = ?"),
    list: db.prepare<[], StoredSecretInfo>(
      "SELECT id, key_id, COALESCE(created_at_ms, updated_at_ms) AS created_at_ms, updated_at_ms FROM secrets ORDER BY id",
    ),
  });
  const s = () => (q ??= prepare());
  const reveal = (r: Row): string => (r.key_id === null ? r.value : open(keyring.byId(r.key_id, r.id), r.id, r.value));

  /**
   * Run `fn` with secure_delete on (freed cells zeroed), then empty the WAL, so replaced bytes leave no copy behind: for
   * sealing plain text and for re-sealing (old ciphertexts would open with the old key). A new sealed value needs neither.
   */
  const scrubbing = <T>(fn: () => T): T => {
    const before = db.pragma("secure_delete", { simple: true }) as number;
    db.pragma("secure_delete = ON");
    try {
      return fn();
    } finally {
      db.pragma(`secure_delete = ${before ? "ON" : "OFF"}`);
      if (!db.inTransaction) db.pragma("wal_checkpoint(TRUNCATE)");
    }
  };

  return {
    /** The stored value, or null. Throws when the store cannot be read or the key is wrong (fail closed). */
    get: (id: string): string | null => {
      const r = s().get.get(id);
      return r ? reveal(r) : null;
    },
    put: (id: string, value: string, now: number): void => {
      const key = keyring.sealing();
      s().put.run(id, seal(key, id, value), key.id, now, now);
    },
    /** False when there was none. */
    delete: (id: string): boolean => s().delete.run(id).changes > 0,
    /** Stored ids with their key id and times; never values. */
    list: (): StoredSecretInfo[] => s().list.all(),
    /** Seal rows written before encryption (plain text); returns how many. Needs write access. */
    sealPlaintext: (): number => {
      const rows = s().plain.all();
      if (rows.length === 0) return 0;
      const key = keyring.sealing();
      scrubbing(() => db.transaction(() => rows.forEach((r) => s().reseal.run(seal(key, r.id, r.value), key.id, r.id))).immediate());
      return rows.length;
    },
    /**
     * Re-seal every value under `next` in one transaction. The caller makes `next` available first (the key file's
     * `.next` sibling, or TAU_SECRETS_KEY for the next start) so a crash at any point leaves every value readable.
     */
    reseal: (next: SecretsKey): { resealed: number; from: string[]; to: string } => {
      const from = new Set<string>();
      const n = scrubbing(() =>
        db
          .transaction(() => {
            const rows = s().all.all();
            for (const r of rows) {
              from.add(r.key_id ?? "plaintext");
              s().reseal.run(seal(next, r.id, reveal(r)), next.id, r.id);
            }
            return rows.length;
          })
          .immediate(),
      );
      keyring.reset();
      return { resealed: n, from: [...from].sort(), to: next.id };
    },
    /** Seal a provider's short-lived credential (an interaction token) for the state it passes through. */
    sealToken: (token: string): string => {
      const key = keyring.sealing();
      return `${SEALED_TOKEN_PREFIX}${key.id}:${seal(key, "interaction token", token, TOKEN_AAD)}`;
    },
    /**
     * The credential `sealToken` sealed; a value without the prefix is returned as it is (written before tokens were
     * sealed, or a fixture). Throws when no key source holds its key or it was altered (fail closed).
     */
    openToken: (value: string): string => {
      if (!value.startsWith(SEALED_TOKEN_PREFIX)) return value;
      const rest = value.slice(SEALED_TOKEN_PREFIX.length);
      const colon = rest.indexOf(":");
      const key = keyring.byId(rest.slice(0, Math.max(0, colon)), "interaction token");
      try {
        return open(key, "interaction token", rest.slice(colon + 1), TOKEN_AAD);
      } catch (err) {
        throw new TauError("SECRETS_TOKEN_UNREADABLE", `an interaction token does not open with key ${key.id} from ${key.source}`, {
          cause: err,
          hint: "it was altered, or sealed with another key of the same id; the interaction it belongs to cannot be answered",
        });
      }
    },
    /**
     * Why nothing could be sealed now (a shared store without TAU_SECRETS_KEY, a malformed key, a key file that does not
     * read), or null. Creates no key file: on a local store without TAU_SECRETS_KEY the file is made on first use.
     */
    sealingProblem: (): string | null => {
      // A local store without TAU_SECRETS_KEY and without a key file yet makes one on first use (the state folder's
      // writability is checked on its own); an existing one must read.
      if (!keys.shared && !keys.envKey && !(keys.keyFile !== null && fs.existsSync(keys.keyFile))) return null;
      try {
        keyring.sealing();
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    },
    /** The key a new value would be sealed with (creating the key file if needed), and the key sources. */
    sealingKey: (): SecretsKey => keyring.sealing(),
    keySources: (): string => keyring.describe(),
    nextKeyFile: (): string | null => keyring.nextKeyFile,
    keyFile: (): string | null => keys.keyFile,
    forgetKeys: (): void => keyring.reset(),
  };
}

export type SecretsStore = ReturnType<typeof createSecretsStore>;
export { secretsKeyId };
