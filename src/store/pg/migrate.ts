/**
 * @module Open tau's state on PostgreSQL: the adapter (pg-db.ts) on the database URL, then the numbered migrations of
 * `migrations/pg/` (the same numbers as the SQLite ones) applied in one transaction each and recorded in
 * `tau_schema_version`, all under a session advisory lock so several nodes starting at once apply each migration
 * exactly once. A database newer than this build is refused (STATE_TOO_NEW), as on SQLite.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TauError } from "../../contracts/errors.ts";
import { PgDb } from "./pg-db.ts";
import type { BridgeOptions } from "./bridge.ts";

const PG_MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "migrations", "pg");

/** The advisory lock key all tau nodes take while migrating (an arbitrary constant: "taum"). */
export const MIGRATION_LOCK_KEY = 0x7461756d;

/** The numbered PostgreSQL migrations shipped with this build, in order. */
export function listPgMigrations(): { version: number; name: string; sql: string }[] {
  return fs
    .readdirSync(PG_MIGRATIONS_DIR)
    .filter((f) => /^\d{3}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(PG_MIGRATIONS_DIR, f), "utf8") }));
}

/** The schema version recorded in the database (0 when tau never migrated it). */
export function pgSchemaVersion(db: PgDb): number {
  const exists = db.bridge.query("SELECT to_regclass('tau_schema_version') IS NOT NULL AS e", []).rows[0]?.e;
  if (!exists) return 0;
  return Number(db.bridge.query("SELECT COALESCE(MAX(version), 0) AS v FROM tau_schema_version", []).rows[0]?.v ?? 0);
}

/** Apply pending migrations (each in one transaction) under the cluster-wide advisory lock; returns the versions applied. */
export function migratePg(db: PgDb, migrations = listPgMigrations()): number[] {
  const latest = migrations.at(-1)?.version ?? 0;
  const b = db.bridge;
  // Another node may hold the lock while it migrates: waiting for it is bounded by the bridge's statement timeout.
  b.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
  try {
    b.exec(
      "CREATE TABLE IF NOT EXISTS tau_schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    );
    const current = pgSchemaVersion(db);
    if (current > latest) {
      throw new TauError("STATE_TOO_NEW", `the PostgreSQL store ${db.target} is at schema ${current}, this tau knows up to ${latest}`, {
        details: { store: db.target },
        hint: "upgrade tau on this node to the version the other nodes run",
      });
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.transaction(() => {
        db.exec(m.sql);
        b.query("INSERT INTO tau_schema_version (version, name) VALUES ($1, $2)", [m.version, m.name], undefined, true);
      })();
      applied.push(m.version);
    }
    return applied;
  } finally {
    try {
      b.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    } catch {
      /* the session ends with the connection; so does the lock */
    }
  }
}

export interface PgOpenOptions extends BridgeOptions {
  /** Read-only commands: no migration; every transaction read-only; a schema behind this build is refused. */
  readonly?: boolean;
}

/** Open (migrating unless read-only) tau's state in the PostgreSQL database at `url`. */
export function openPgDatabase(url: string, opts: PgOpenOptions = {}): PgDb {
  const db = new PgDb(
    url,
    opts.readonly ? { ...opts, sessionSettings: { ...opts.sessionSettings, default_transaction_read_only: "on" } } : opts,
  );
  try {
    db.bridge.ping();
    if (opts.readonly) {
      const version = pgSchemaVersion(db);
      const latest = listPgMigrations().at(-1)?.version ?? 0;
      if (version < latest)
        throw new TauError("STATE_SCHEMA_BEHIND", `the PostgreSQL store ${db.target} is at schema ${version}, this tau reads ${latest}`, {
          details: { store: db.target },
          hint: "start a tau node (tau run) of this version once: it migrates the shared store",
        });
      if (version > latest)
        throw new TauError("STATE_TOO_NEW", `the PostgreSQL store ${db.target} is at schema ${version}, this tau knows up to ${latest}`, {
          details: { store: db.target },
          hint: "upgrade tau on this node to the version the other nodes run",
        });
    } else migratePg(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
