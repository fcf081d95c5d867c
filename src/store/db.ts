/**
 * @module Open the state database: folders 0700, files 0600, WAL, numbered migrations applied at start.
 * The only importer of better-sqlite3 (ARCHITECTURE.md import rules).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { TauError } from "../contracts/errors.ts";

/** What a prepared statement offers the store files; better-sqlite3's Statement and the PostgreSQL adapter both satisfy it. */
export interface DbStatement<P extends unknown[] = unknown[], R = unknown> {
  run(...params: P): DbRunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
  iterate(...params: P): IterableIterator<R>;
  pluck(toggleState?: boolean): this;
  /**
   * PostgreSQL, inside a unit of work: queue this read as a write is queued — it goes out in order with the unit's next
   * round trip (with its COMMIT in `transactionAsync`: no round trip of its own, none that blocks) — and return its rows
   * once that round trip has answered (before: an error). Absent on SQLite, where `all` is no round trip.
   */
  allQueued?(...params: P): () => R[];
}

export interface DbRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same shape as better-sqlite3's own typing
type DbTxFn = (...params: any[]) => unknown;
type DbTxArgs<F extends DbTxFn> = F extends (...args: infer A) => unknown ? A : never;

export interface DbTransaction<F extends DbTxFn> {
  (...params: DbTxArgs<F>): ReturnType<F>;
  deferred(...params: DbTxArgs<F>): ReturnType<F>;
  immediate(...params: DbTxArgs<F>): ReturnType<F>;
  exclusive(...params: DbTxArgs<F>): ReturnType<F>;
}

/**
 * The database handle the store files use: the subset of better-sqlite3's API tau needs, so a better-sqlite3
 * `Database` and the PostgreSQL adapter (pg/pg-db.ts) both satisfy it. `dialect` is absent on better-sqlite3.
 */
export interface Db {
  readonly dialect?: "sqlite" | "postgres";
  readonly inTransaction: boolean;
  readonly open: boolean;
  /**
   * PostgreSQL: a number that changes at every BEGIN and every rollback (of the whole unit of work or to a savepoint).
   * What a store read inside a unit of work and remembered with this number is still true — for this unit — while the
   * number is unchanged. Absent on SQLite, whose reads are not round trips worth saving.
   */
  readonly unitEpoch?: number;
  prepare<P extends unknown[] | {} = unknown[], R = unknown>(source: string): P extends unknown[] ? DbStatement<P, R> : DbStatement<[P], R>;
  transaction<F extends DbTxFn>(fn: F): DbTransaction<F>;
  /** PostgreSQL: an outer unit of work whose COMMIT does not block this thread (pg-db.ts). Absent on SQLite. */
  transactionAsync?<T>(fn: () => T): Promise<T>;
  exec(source: string): this;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): this;
}

/** The SQL dialect behind a handle: store files branch on it where one statement cannot serve both engines. */
export function dialectOf(db: Db): "sqlite" | "postgres" {
  return db.dialect === "postgres" ? "postgres" : "sqlite";
}

/** The better-sqlite3 handle behind `db` for SQLite-only operations (online backup); PostgreSQL gets a clear error. */
export function sqliteOf(db: Db, what: string): Database.Database {
  if (dialectOf(db) === "sqlite" && db instanceof Database) return db;
  throw new TauError("STORE_SQLITE_ONLY", `${what} works on the SQLite store only; this store is on PostgreSQL`, {
    hint: 'back up the shared PostgreSQL database with pg_dump (e.g. pg_dump --format=custom --file=tau.dump "$TAU_DATABASE_URL")',
  });
}

/**
 * The numbered migrations: the folder beside this module (src/store/migrations), or one level up in the bundled build,
 * where this code sits in a chunk in dist/lib/ and the migrations in dist/migrations/ (scripts/build.ts).
 */
const MIGRATIONS_DIR = ((here: string) =>
  fs.existsSync(path.join(here, "migrations")) ? path.join(here, "migrations") : path.join(here, "..", "migrations"))(
  path.dirname(fileURLToPath(import.meta.url)),
);

/** Create a state folder (and parents) with mode 0700, tightening it if it already exists. */
export function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR") throw notAFolderError(dir, err);
    throw err;
  }
  fs.chmodSync(dir, 0o700);
}

/** A folder tau must use (the state folder or one inside it) is a file, or lies under one. */
function notAFolderError(dir: string, cause?: unknown): TauError {
  return new TauError("STATE_DIR_NOT_A_FOLDER", `${dir} is not a folder (a file is in the way)`, {
    cause,
    details: { path: dir },
    hint: "point --state-dir (or TAU_STATE_DIR) at a folder, or move that file away",
  });
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

/** The state folder or its database does not exist: read-only commands say so instead of creating it (exit 2). */
export function stateMissingError(stateDir: string, what: string): TauError {
  return new TauError("STATE_MISSING", `${what} does not exist: no tau state here`, {
    reason: "state_missing",
    details: { state_dir: stateDir },
    hint: "pass --state-dir (or TAU_STATE_DIR) pointing at the service's state folder",
  });
}

/**
 * Open `<stateDir>/tau.db` for reading only: never creates, migrates (unless the file is ours to write and behind
 * this build) or chmods anything. A user who may read but not write the folder (a monitoring account) gets a
 * consistent snapshot: SQLite's own read-only WAL access while the service runs, an in-memory copy of the file
 * (journal header switched to rollback) when no `-shm` index exists to share.
 */
function openReadOnly(stateDir: string, file: string): Db {
  if (!fs.existsSync(stateDir)) throw stateMissingError(stateDir, stateDir);
  if (!fs.statSync(stateDir).isDirectory()) throw notAFolderError(stateDir);
  if (!fs.existsSync(file)) throw stateMissingError(stateDir, file);
  const behind = () => {
    const probe = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (probe.pragma("user_version", { simple: true }) as number) < (listMigrations().at(-1)?.version ?? 0);
    } finally {
      probe.close();
    }
  };
  let db: Db;
  try {
    // A build newer than the state: apply its migrations once if we may write the file (the service would at start).
    if (behind() && writable(file)) {
      const rw = new Database(file, { fileMustExist: true });
      rw.pragma("busy_timeout = 5000");
      migrate(rw);
      rw.close();
    }
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    db.prepare("SELECT 1 FROM sqlite_master LIMIT 1").get();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== "SQLITE_READONLY_DIRECTORY" && code !== "SQLITE_CANTOPEN" && code !== "SQLITE_READONLY_CANTINIT") throw err;
    const bytes = fs.readFileSync(file);
    // Bytes 18–19 are the file format versions (2 = WAL); 1 lets the in-memory copy open without a -shm index.
    bytes[18] = 1;
    bytes[19] = 1;
    db = new Database(bytes, { readonly: true });
  }
  const version = db.pragma("user_version", { simple: true }) as number;
  const latest = listMigrations().at(-1)?.version ?? 0;
  if (version < latest) {
    db.close();
    throw new TauError("STATE_SCHEMA_BEHIND", `state database is at schema ${version}, this tau reads ${latest}`, {
      hint: "start the service (tau run) once with this version, or run this command as the state's owner",
    });
  }
  return db;
}

function writable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    fs.accessSync(path.dirname(file), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Open (creating if needed) `<stateDir>/tau.db` with WAL and full fsync on commit; `readonly` never creates or changes state. */
export function openDatabase(stateDir: string, opts: { readonly?: boolean } = {}): Db {
  const file = path.join(stateDir, "tau.db");
  if (opts.readonly) return openReadOnly(stateDir, file);
  ensurePrivateDir(stateDir);
  const existed = fs.existsSync(file);
  const db = new Database(file);
  if (!existed) fs.chmodSync(file, 0o600);
  db.pragma("busy_timeout = 5000");
  db.pragma("journal_mode = WAL");
  // FULL: a commit survives power loss once it returns. The service switches to NORMAL and fsyncs before each effect
  // instead (durability.ts): either way nothing is answered twice after a reboot.
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
  return db;
}
