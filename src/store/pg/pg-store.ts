/**
 * @module The Store port on a shared PostgreSQL database (`store.driver: postgres`). The URL comes from
 * TAU_DATABASE_URL or from the secret `store.url_secret` in the node's LOCAL SQLite store (`<state>/tau.db`): it is
 * what lets the node reach the shared store, so it cannot live there — `tau secrets set <url_secret>` lands locally
 * (Store.secretHome). Secrets in the shared store are sealed with TAU_SECRETS_KEY only, the same on every node.
 * Without a URL the store still opens — so `tau secrets set database-url` can fix it — and every use of the shared
 * state fails with STORE_URL_MISSING.
 */
import path from "node:path";
import fs from "node:fs";
import { TauError } from "../../contracts/errors.ts";
import { createStore, openStore, sharedBackupError, SHARED_STORE_KEY, type OpenStoreOptions, type Store } from "../store.ts";
import { openPgDatabase } from "./migrate.ts";
import { PgDb } from "./pg-db.ts";

export function openPostgresStore(stateDir: string, opts: OpenStoreOptions): Store {
  const urlSecret = opts.urlSecret ?? "database-url";
  // The local store: present on every node (its own secrets, the URL). A read-only command on a node whose local
  // state is missing still works when the URL comes from the environment.
  const local =
    opts.readonly && opts.databaseUrl && !fs.existsSync(path.join(stateDir, "tau.db"))
      ? null
      : openStore(stateDir, { readonly: opts.readonly, secretsKey: opts.secretsKey, localOfShared: true });
  let url = opts.databaseUrl || null;
  try {
    if (!url && local) url = local.secrets.get(urlSecret);
    const bounds = { connectTimeoutMs: opts.connectTimeoutMs, queryTimeoutMs: opts.queryTimeoutMs, readonly: opts.readonly };
    const db = url ? openPgDatabase(url, bounds) : new PgDb(null, bounds, urlMissing(urlSecret));
    // Marks the local file as "not this node's state" for `tau backup`, which reads no config (store.ts).
    if (url && local && !opts.readonly && local.kv.get(SHARED_STORE_KEY) !== db.target) local.kv.put(SHARED_STORE_KEY, db.target);
    const store = createStore(
      db,
      { keyFile: null, envKey: opts.secretsKey, shared: true },
      local ? new Map([[urlSecret, local]]) : new Map(),
    );
    store.backup = async () => {
      throw sharedBackupError(db.target);
    };
    const close = store.close;
    store.close = () => {
      try {
        close();
      } finally {
        local?.close();
      }
    };
    return store;
  } catch (err) {
    local?.close();
    throw err;
  }
}

function urlMissing(urlSecret: string): TauError {
  return new TauError("STORE_URL_MISSING", "store.driver is postgres but no database URL is set", {
    reason: "store_url_missing",
    hint: `set TAU_DATABASE_URL, or store it on this node: printf %s "$URL" | tau secrets set ${urlSecret}`,
  });
}
