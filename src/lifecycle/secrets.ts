/**
 * @module Credentials: the environment first (PRODUCT.md §8 names), then the integration store (table `secrets` in the
 * state database, sealed with AES-256-GCM under TAU_SECRETS_KEY or `<state>/secrets.key`). Values are returned only to
 * the code that uses them; listings show ids, sources, presence and times, never values. A store that cannot be read
 * (or opened with the key at hand) is reported as `credential_store_unreadable`, with the reason.
 */
import { SECRET_ENV, type Env, type SecretId } from "../config/index.ts";
import { ValidationError } from "../contracts/errors.ts";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { parseSecretsKey, secretsKeyId, SECRETS_KEY_ENV_NAME, writeKeyFile, type SecretsStore } from "../store/index.ts";

/** Integration ids: lowercase words joined by dashes, e.g. `telegram-bot-token`. */
const SECRET_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

type CredentialSource = "env" | "store";

interface Credential {
  id: string;
  value: string | null;
  source: CredentialSource | null;
  /** Set when the integration store could not be read (the value may exist there). */
  error: "credential_store_unreadable" | null;
  /** Why, when `error` is set (names the key source when the key is wrong or missing). */
  detail?: string;
}

export interface CredentialReader {
  read(id: string): Credential;
  /** The integration store is readable and every stored value opens with the key at hand. */
  storeReadable(): boolean;
  /** Why the store is not readable, or null. */
  storeProblem(): string | null;
  /** Why nothing could be sealed now (Discord interaction tokens are sealed as they arrive), or null. */
  sealProblem(): string | null;
}

/** The environment variable for an integration id, if it has one. */
function envNameFor(id: string): string | null {
  return (SECRET_ENV as Record<string, string>)[id] ?? null;
}

/** Read credentials from `env`, then the integration store `secrets`. */
export function createCredentialReader(env: Env, secrets: SecretsStore): CredentialReader {
  const fromStore = (id: string): { value: string | null; error: Credential["error"]; detail?: string } => {
    try {
      return { value: secrets.get(id), error: null };
    } catch (err) {
      return { value: null, error: "credential_store_unreadable", detail: (err as Error).message };
    }
  };
  const storeProblem = (): string | null => {
    try {
      for (const r of secrets.list()) secrets.get(r.id);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  return {
    read(id) {
      const name = envNameFor(id);
      const e = name ? env[name] : undefined;
      if (e) return { id, value: e, source: "env", error: null };
      const s = fromStore(id);
      return { id, value: s.value, source: s.value !== null ? "store" : null, error: s.error, ...(s.detail ? { detail: s.detail } : {}) };
    },
    storeReadable: () => storeProblem() === null,
    storeProblem,
    sealProblem: () => secrets.sealingProblem(),
  };
}

function checkId(id: string): void {
  if (!SECRET_ID_PATTERN.test(id) || id.length > 64) {
    throw new ValidationError("USAGE_SECRET_ID", `"${id}" is not an integration id`, {
      hint: `use lowercase words joined by dashes, e.g. ${Object.keys(SECRET_ENV).slice(0, 3).join(", ")}`,
    });
  }
}

/** Store (or replace) a secret. */
export function setSecret(secrets: SecretsStore, id: string, value: string, now: number): void {
  checkId(id);
  if (value.length === 0)
    throw new ValidationError("USAGE_SECRET_EMPTY", `no value for ${id} on stdin`, {
      hint: `pipe it in: printf %s "$VALUE" | tau secrets set ${id}`,
    });
  secrets.put(id, value, now);
}

/** Remove a stored secret; false when there was none. */
export function deleteSecret(secrets: SecretsStore, id: string): boolean {
  checkId(id);
  return secrets.delete(id);
}

interface SecretListing {
  id: string;
  /** Where the effective value comes from (env wins), or null when absent. */
  source: CredentialSource | null;
  present: boolean;
  env_var: string | null;
  in_env: boolean;
  in_store: boolean;
  /** A fixed mask when present: the value itself is never listed, nor its length. */
  value: string | null;
  /** The key the stored value is sealed with (null: plain text from before encryption, or not stored). */
  key_id: string | null;
  created_at_ms: number | null;
  updated_at_ms: number | null;
}

/** What a listing shows for a present value. */
export const SECRET_MASK = "********";

/** Every known id plus every stored id: sources, presence and times, never values. */
export function listSecrets(env: Env, secrets: SecretsStore): SecretListing[] {
  const stored = new Map(secrets.list().map((r) => [r.id, r]));
  const ids = [...new Set([...(Object.keys(SECRET_ENV) as SecretId[]), ...stored.keys()])].sort();
  return ids.map((id) => {
    const env_var = envNameFor(id);
    const in_env = env_var !== null && Boolean(env[env_var]);
    const row = stored.get(id);
    const in_store = row !== undefined;
    return {
      id,
      source: in_env ? "env" : in_store ? "store" : null,
      present: in_env || in_store,
      env_var,
      in_env,
      in_store,
      value: in_env || in_store ? SECRET_MASK : null,
      key_id: row?.key_id ?? null,
      created_at_ms: row?.created_at_ms ?? null,
      updated_at_ms: row?.updated_at_ms ?? null,
    };
  });
}

/** What a key rotation did: how many values, from which key ids to which. */
export interface KeyRotation {
  resealed: number;
  from: string[];
  to: string;
  /** Where the new key lives: the key file, or TAU_SECRETS_KEY (which the operator must now set). */
  key_source: string;
}

/**
 * Re-seal every stored value under a new key, atomically. With a key file: the new key is written beside it first
 * (`secrets.key.next`, 0600, fsynced), the values are re-sealed in one transaction, then the file is renamed over the
 * old key — a crash at any point leaves every value readable (the `.next` key is tried too). With TAU_SECRETS_KEY:
 * `newKey` (base64 of 32 bytes) is required, and the operator sets the variable to it before the next start.
 */
export function rotateSecretsKey(env: Env, secrets: SecretsStore, newKey: string | null): KeyRotation {
  if (env[SECRETS_KEY_ENV_NAME]) {
    if (!newKey) {
      throw new ValidationError("USAGE_SECRETS_NEW_KEY", `${SECRETS_KEY_ENV_NAME} is set: the new key must come from you`, {
        hint: `generate one (openssl rand -base64 32), pipe it to tau secrets rotate-key, then set ${SECRETS_KEY_ENV_NAME} to it`,
      });
    }
    const next = parseSecretsKey(newKey, "the new key on stdin");
    const r = secrets.reseal(next);
    return { ...r, key_source: SECRETS_KEY_ENV_NAME };
  }
  const keyFile = secrets.keyFile();
  const nextFile = secrets.nextKeyFile();
  if (keyFile === null || nextFile === null) throw new ValidationError("USAGE_SECRETS_NO_KEY_FILE", "this store has no key file to rotate");
  if (newKey)
    throw new ValidationError("USAGE_SECRETS_NEW_KEY", `tau makes the new key itself when ${SECRETS_KEY_ENV_NAME} is not set`, {
      hint: "pass nothing on stdin",
    });
  if (fs.existsSync(nextFile)) {
    // A rotation stopped after its commit (values sealed with the `.next` key) or before it (nothing uses it).
    const pending = parseSecretsKey(fs.readFileSync(nextFile, "utf8"), nextFile);
    if (secrets.list().some((r) => r.key_id === pending.id)) fs.renameSync(nextFile, keyFile);
    else fs.unlinkSync(nextFile);
    secrets.forgetKeys();
  }
  secrets.sealingKey(); // the current key exists (created now for a store that never had one)
  const key = randomBytes(32);
  writeKeyFile(nextFile, key);
  const r = secrets.reseal({ id: secretsKeyId(key), key, source: nextFile });
  fs.renameSync(nextFile, keyFile);
  secrets.forgetKeys();
  return { ...r, key_source: keyFile };
}
