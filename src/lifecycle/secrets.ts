/**
 * @module Credentials: the environment first (PRODUCT.md §8 names), then the integration store (table `secrets`
 * in the state database, mode 0600). Values are returned only to the code that uses them; listings show ids, sources and
 * presence, never values. A store that cannot be read is reported as `credential_store_unreadable`.
 */
import { SECRET_ENV, type Env, type SecretId } from "../config/index.ts";
import { ValidationError } from "../contracts/errors.ts";
import type { SecretsStore } from "../store/index.ts";

/** Integration ids: lowercase words joined by dashes, e.g. `telegram-bot-token`. */
const SECRET_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

type CredentialSource = "env" | "store";

interface Credential {
  id: string;
  value: string | null;
  source: CredentialSource | null;
  /** Set when the integration store could not be read (the value may exist there). */
  error: "credential_store_unreadable" | null;
}

export interface CredentialReader {
  read(id: string): Credential;
  /** The integration store is readable. */
  storeReadable(): boolean;
}

/** The environment variable for an integration id, if it has one. */
function envNameFor(id: string): string | null {
  return (SECRET_ENV as Record<string, string>)[id] ?? null;
}

/** Read credentials from `env`, then the integration store `secrets`. */
export function createCredentialReader(env: Env, secrets: SecretsStore): CredentialReader {
  const fromStore = (id: string): { value: string | null; error: Credential["error"] } => {
    try {
      return { value: secrets.get(id), error: null };
    } catch {
      return { value: null, error: "credential_store_unreadable" };
    }
  };
  return {
    read(id) {
      const name = envNameFor(id);
      const e = name ? env[name] : undefined;
      if (e) return { id, value: e, source: "env", error: null };
      const s = fromStore(id);
      return { id, value: s.value, source: s.value !== null ? "store" : null, error: s.error };
    },
    storeReadable: () => fromStore("__probe__").error === null,
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
  updated_at_ms: number | null;
}

/** Every known id plus every stored id: sources and presence, never values. */
export function listSecrets(env: Env, secrets: SecretsStore): SecretListing[] {
  const stored = new Map(secrets.list().map((r) => [r.id, r.updated_at_ms]));
  const ids = [...new Set([...(Object.keys(SECRET_ENV) as SecretId[]), ...stored.keys()])].sort();
  return ids.map((id) => {
    const env_var = envNameFor(id);
    const in_env = env_var !== null && Boolean(env[env_var]);
    const in_store = stored.has(id);
    return {
      id,
      source: in_env ? "env" : in_store ? "store" : null,
      present: in_env || in_store,
      env_var,
      in_env,
      in_store,
      updated_at_ms: stored.get(id) ?? null,
    };
  });
}
