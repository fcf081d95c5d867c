/**
 * @module Open the state database: folders 0700, files 0600, WAL, numbered migrations applied at start.
 * The only importer of better-sqlite3 (ARCHITECTURE.md import rules).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { TauError } from "../contracts/errors.ts";

export type Db = Database.Database;

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

/** Create a state folder (and parents) with mode 0700, tightening it if it already exists. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** The numbered migrations shipped with this build, in order. */
export function listMigrations(): { version: number; name: string; sql: string }[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(MIGRATIONS_DIR, f), "utf8") }));
}

/** Apply pending migrations in one transaction each; refuses a database newer than this build. */
export function migrate(db: Db): number[] {
  const current = db.pragma("user_version", { simple: true }) as number;
  const all = listMigrations();
  const latest = all.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new TauError("STATE_TOO_NEW", `state database is at schema ${current}, this tau knows up to ${latest}`, {
      hint: "upgrade tau, or point --state-dir at another folder",
    });
  }
  const applied: number[] = [];
  for (const m of all) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}

/** Open (creating if needed) `<stateDir>/tau.db` with WAL and full fsync on commit. */
export function openDatabase(stateDir: string, opts: { readonly?: boolean } = {}): Db {
  ensurePrivateDir(stateDir);
  const file = path.join(stateDir, "tau.db");
  const existed = fs.existsSync(file);
  const db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  if (!existed) fs.chmodSync(file, 0o600);
  db.pragma("busy_timeout = 5000");
  if (!opts.readonly) {
    db.pragma("journal_mode = WAL");
    // FULL: a committed cursor advance survives power loss, so nothing is answered twice after a reboot.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    // Dedupe and outbox keys are hashes (random order): a larger page cache keeps their B-tree inserts in memory.
    db.pragma("cache_size = -16384");
    db.pragma("temp_store = MEMORY");
    // Fewer, larger checkpoints: each one is an fsync of the main file under synchronous=FULL.
    db.pragma("wal_autocheckpoint = 10000");
    migrate(db);
    for (const suffix of ["-wal", "-shm"]) {
      const f = file + suffix;
      if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
    }
  }
  return db;
}
