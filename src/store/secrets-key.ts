/**
 * @module The key that seals the integration store: `TAU_SECRETS_KEY` (base64 of 32 bytes) when set, else a key file
 * beside the state (`<state>/secrets.key`, 0600, created on first use). Keys are known by an id derived from the key
 * (a hash, which reveals nothing of it), stored with each value, so a wrong key is named instead of decrypting garbage.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { TauError } from "../contracts/errors.ts";

/** The environment variable that carries the key (read by src/config/env.ts; handed to the store by the app). */
export const SECRETS_KEY_ENV_NAME = "TAU_SECRETS_KEY";
const KEY_BYTES = 32;

export interface SecretsKey {
  id: string;
  key: Buffer;
  /** Where it came from, for messages: `TAU_SECRETS_KEY` or the key file's path. */
  source: string;
}

export interface SecretsKeyOptions {
  /** The value of TAU_SECRETS_KEY, if set. */
  envKey?: string;
  /** The key file; null keeps a key in memory only (a `:memory:` database). */
  keyFile: string | null;
  /** A store shared by several nodes (PostgreSQL): only TAU_SECRETS_KEY, the same on every node, may seal or open. */
  shared?: boolean;
}

const SHARED_KEY_HINT = `every node of a shared PostgreSQL store needs the same ${SECRETS_KEY_ENV_NAME} (base64 of 32 bytes); set it on this node to the key the other nodes use`;

/** The id of a key: `k` + 16 hex digits of a domain-separated SHA-256. */
export function secretsKeyId(key: Buffer): string {
  return "k" + createHash("sha256").update("tau-secrets-key\0").update(key).digest("hex").slice(0, 16);
}

function decodeKey(text: string, source: string, fix: string): Buffer {
  const t = text.trim();
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(t) ? Buffer.from(t, "base64") : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) {
    throw new TauError("SECRETS_KEY_INVALID", `${source} is not a secrets key: expected base64 of ${KEY_BYTES} bytes`, {
      hint: fix,
    });
  }
  return key;
}

/** Parse a key given as base64 (TAU_SECRETS_KEY, or the new key for `tau secrets rotate-key`). */
export function parseSecretsKey(text: string, source: string): SecretsKey {
  const key = decodeKey(text, source, "generate one with: openssl rand -base64 32");
  return { id: secretsKeyId(key), key, source };
}

/** Write a key file atomically with mode 0600 (temp file, fsync, rename). */
export function writeKeyFile(file: string, key: Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, key.toString("base64") + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), "r");
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

function readKeyFile(file: string): SecretsKey | null {
  let text: string;
  try {
    const st = fs.statSync(file);
    if ((st.mode & 0o077) !== 0) {
      throw new TauError("SECRETS_KEY_FILE_INSECURE", `${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `chmod 600 ${file}`,
      });
    }
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    if (err instanceof TauError) throw err;
    throw new TauError("SECRETS_KEY_UNREADABLE", `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
      hint: `run tau as the user that owns the state, or set ${SECRETS_KEY_ENV_NAME}`,
    });
  }
  const key = decodeKey(text, file, `restore it from a backup, or set ${SECRETS_KEY_ENV_NAME}`);
  return { id: secretsKeyId(key), key, source: file };
}

export interface Keyring {
  /** The key new values are sealed with: TAU_SECRETS_KEY, else the key file (created now if absent). */
  sealing(): SecretsKey;
  /** The key with this id, or a clear error naming every key source that was looked at. */
  byId(id: string, secretId: string): SecretsKey;
  /** Where a rotation writes the next key before the database commits (kept as a fallback until renamed). */
  readonly nextKeyFile: string | null;
  /** The key sources, for messages. */
  describe(): string;
  /** Forget cached keys (after a rotation). */
  reset(): void;
}

/** Keys for one state folder. Nothing is read until a secret is. */
export function createKeyring(opts: SecretsKeyOptions): Keyring {
  let ephemeral: SecretsKey | null = null;
  let cache: { env: SecretsKey | null; file: SecretsKey | null; next: SecretsKey | null } | null = null;
  const nextKeyFile = opts.keyFile === null ? null : `${opts.keyFile}.next`;
  const load = () =>
    (cache ??= {
      env: opts.envKey ? parseSecretsKey(opts.envKey, SECRETS_KEY_ENV_NAME) : null,
      file: opts.keyFile === null ? null : readKeyFile(opts.keyFile),
      next: nextKeyFile === null ? null : readKeyFile(nextKeyFile),
    });
  const describe = () => {
    const parts: string[] = [];
    const k = cache;
    parts.push(opts.envKey ? `${SECRETS_KEY_ENV_NAME} (key ${k?.env?.id ?? "?"})` : `${SECRETS_KEY_ENV_NAME} (not set)`);
    if (opts.keyFile !== null) parts.push(k?.file ? `${opts.keyFile} (key ${k.file.id})` : `${opts.keyFile} (absent)`);
    return parts.join(" and ");
  };
  return {
    nextKeyFile,
    describe,
    reset: () => void (cache = null),
    sealing() {
      const k = load();
      if (k.env) return k.env;
      if (opts.shared)
        throw new TauError("SECRETS_KEY_REQUIRED", `the shared store seals secrets only with ${SECRETS_KEY_ENV_NAME}, which is not set`, {
          hint: SHARED_KEY_HINT,
        });
      if (k.file) return k.file;
      if (opts.keyFile === null) {
        ephemeral ??= (() => {
          const key = randomBytes(KEY_BYTES);
          return { id: secretsKeyId(key), key, source: "memory" };
        })();
        return ephemeral;
      }
      const key = randomBytes(KEY_BYTES);
      writeKeyFile(opts.keyFile, key);
      k.file = { id: secretsKeyId(key), key, source: opts.keyFile };
      return k.file;
    },
    byId(id, secretId) {
      const k = load();
      for (const c of [k.env, k.file, k.next, ephemeral]) if (c && c.id === id) return c;
      throw new TauError("SECRETS_KEY_MISMATCH", `secret ${secretId} is sealed with key ${id}, which no key source holds: ${describe()}`, {
        hint: opts.shared
          ? `${SHARED_KEY_HINT}; tau will not use the stored secrets until then`
          : `set ${SECRETS_KEY_ENV_NAME} (or restore ${opts.keyFile ?? "the key file"}) to the key the store was sealed with; tau will not use the stored secrets until then`,
      });
    },
  };
}
