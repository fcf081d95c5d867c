/**
 * @module Backup and restore of the state database with SQLite's online backup API (better-sqlite3 `db.backup`):
 * a backup is a consistent snapshot taken while the service writes (WAL readers do not block the writer), written
 * to a temporary file and renamed into place; a restore checks that the file is a tau database this build can run,
 * keeps the current database as `tau.db.bak-<time>`, and copies the backup in through SQLite's locking, never by
 * swapping files under an open connection.
 * @see https://www.sqlite.org/backup.html
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { TauError } from "../contracts/errors.ts";
import { ensurePrivateDir, listMigrations, migrate, sqliteOf, type Db } from "./db.ts";
import { acquireLifetimeLock } from "./process-lock.ts";

/** The state database's file name inside the state folder (as db.ts opens it). */
const DB_FILE = "tau.db";
/** The runner's lifetime lock (src/app/runner.ts): held by `tau run` and `tau process`. */
const RUNNER_LOCK = "runner.lock";
/** Tables every tau database has since migration 001: what tells a tau database from any other SQLite file. */
const CORE_TABLES = ["ingress_cursors", "events", "outbox", "kv"] as const;
/** Pages per backup step: all of them in one step, so a writer in another process cannot restart a long copy. */
const ALL_PAGES = 0x7fffffff;

export interface BackupResult {
  /** Absolute path of the backup written. */
  file: string;
  bytes: number;
  pages: number;
  /** The schema (migration) level in the backup. */
  schema_version: number;
}

export interface RestoreResult {
  /** Absolute path of the backup that was restored. */
  file: string;
  /** The state database now holding the restored data. */
  database: string;
  /** Where the database it replaced was kept, or null when the state had none. */
  previous: string | null;
  /** Schema level of the backup, and after this build's migrations ran over it. */
  schema_from: number;
  schema_to: number;
  migrations_applied: number[];
}

function latestSchema(): number {
  return listMigrations().at(-1)?.version ?? 0;
}

/** Copy `from` to `to` (a path that must not exist) through the backup API, as a single rollback-journal file, mode 0600. */
async function copyDatabase(from: Database.Database, to: string): Promise<number> {
  fs.writeFileSync(to, "", { mode: 0o600, flag: "wx" });
  try {
    const progress = await from.backup(to, { progress: () => ALL_PAGES });
    // The copy of a WAL database says "WAL" in its header; a backup is one self-contained file.
    const out = new Database(to);
    try {
      out.pragma("journal_mode = DELETE");
    } finally {
      out.close();
    }
    const fd = fs.openSync(to, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return progress.totalPages;
  } catch (err) {
    fs.rmSync(to, { force: true });
    throw err;
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write a consistent copy of `db` to `file` (which must not exist): copied to `<file>.tmp-<pid>` beside it, synced,
 * then renamed, so an interrupted backup never leaves a partial file under the name asked for.
 */
export async function backupDatabase(db: Db, file: string, opts: { overwrite?: boolean } = {}): Promise<BackupResult> {
  const sqlite = sqliteOf(db, "tau backup");
  const target = path.resolve(file);
  const dir = path.dirname(target);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new TauError("USAGE_BACKUP_FOLDER_MISSING", `cannot write the backup: folder ${dir} does not exist`, {
      details: { file: target },
      hint: "create the folder first, or name a file in an existing folder",
    });
  if (fs.existsSync(target) && !opts.overwrite)
    throw new TauError("USAGE_BACKUP_TARGET_EXISTS", `${target} already exists; a backup never overwrites a file unasked`, {
      details: { file: target },
      hint: "name a new file, or pass --force to replace it",
    });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  const pages = await copyDatabase(sqlite, tmp);
  fs.renameSync(tmp, target);
  fsyncDir(dir);
  return { file: target, bytes: fs.statSync(target).size, pages, schema_version: schemaOf(target) };
}

function schemaOf(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma("user_version", { simple: true }) as number;
  } finally {
    db.close();
  }
}

/** The schema level of `db` (opened on a candidate backup); throws when it is not a tau database this build can run. */
function verifyCandidate(db: Db, file: string): number {
  const notTau = (why: string, cause?: unknown) =>
    new TauError("RESTORE_NOT_TAU_DATABASE", `${file} is not a tau state database (${why})`, {
      cause,
      details: { file },
      hint: "name a file written by `tau backup`",
    });
  let version: number;
  let tables: Set<string>;
  try {
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw notTau(`quick_check: ${String(check)}`);
    version = db.pragma("user_version", { simple: true }) as number;
    tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  } catch (err) {
    if (err instanceof TauError) throw err;
    throw notTau("not an SQLite database", err);
  }
  const missing = CORE_TABLES.filter((t) => !tables.has(t));
  if (version < 1 || missing.length > 0) throw notTau(missing.length ? `no ${missing.join(", ")} table` : "no schema version");
  const latest = latestSchema();
  if (version > latest)
    throw new TauError("RESTORE_SCHEMA_TOO_NEW", `${file} is at schema ${version}, this tau knows up to ${latest}`, {
      details: { file, schema_version: version, known: latest },
      hint: "restore with the tau version that wrote the backup (or a newer one)",
    });
  return version;
}

/**
 * Keep the current database as `previous`: an online copy, or — when it cannot be read as a database (the reason for
 * many restores) — the file itself and its WAL, moved aside. Only called with the runner lock held.
 */
async function keepCurrent(live: string, previous: string): Promise<void> {
  let current: Database.Database | null = null;
  try {
    current = new Database(live, { fileMustExist: true });
    current.pragma("busy_timeout = 5000");
    await copyDatabase(current, previous);
    return;
  } catch (err) {
    if (fs.existsSync(previous)) throw err;
  } finally {
    current?.close();
  }
  for (const suffix of ["", "-wal", "-shm"]) if (fs.existsSync(live + suffix)) fs.renameSync(live + suffix, previous + suffix);
}

/** `20261206T120102Z`: a sortable, file-name-safe UTC time. */
function stamp(nowMs: number): string {
  return new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

/**
 * Replace the state database in `stateDir` with the backup `file`. Refused while a runner (`tau run`, `tau process`)
 * holds the state — the runner lock is taken for the whole restore, so none starts half-way. The backup is checked on
 * a private copy (never modified), the current database is kept as `tau.db.bak-<time>`, and this build's migrations
 * are applied to the restored data.
 */
export async function restoreDatabase(stateDir: string, file: string, nowMs: number): Promise<RestoreResult> {
  const source = path.resolve(file);
  if (!fs.existsSync(source) || !fs.statSync(source).isFile())
    throw new TauError("USAGE_RESTORE_FILE_MISSING", `${source} does not exist or is not a file`, {
      details: { file: source },
      hint: "name a file written by `tau backup`",
    });
  const wal = `${source}-wal`;
  if (fs.existsSync(wal) && fs.statSync(wal).size > 0)
    throw new TauError("RESTORE_LIVE_DATABASE", `${source} has a write-ahead log beside it: it is a live database, not a backup`, {
      details: { file: source },
      hint: "make a backup of it with `tau backup --state-dir <its folder> <file>` and restore that",
    });
  ensurePrivateDir(stateDir);
  let lock: { release(): void };
  try {
    lock = acquireLifetimeLock(path.join(stateDir, RUNNER_LOCK), "tau runner");
  } catch (err) {
    throw new TauError("RESTORE_SERVICE_RUNNING", `a tau runner (tau run or tau process) is using ${stateDir}: restore refused`, {
      cause: err,
      details: { state_dir: stateDir },
      hint: "stop the service first (systemctl stop tau, or SIGTERM to tau run / tau process), then restore",
    });
  }
  const scratch = path.join(stateDir, `.restore-${process.pid}.db`);
  try {
    fs.rmSync(scratch, { force: true });
    fs.copyFileSync(source, scratch);
    fs.chmodSync(scratch, 0o600);
    const candidate = new Database(scratch, { fileMustExist: true });
    let from: number;
    try {
      from = verifyCandidate(candidate, source);
    } catch (err) {
      candidate.close();
      throw err;
    }
    const live = path.join(stateDir, DB_FILE);
    let previous: string | null = null;
    try {
      if (fs.existsSync(live)) {
        previous = path.join(stateDir, `${DB_FILE}.bak-${stamp(nowMs)}`);
        await keepCurrent(live, previous);
      }
      // Into the live file through SQLite's locks: a reader that has it open sees the old data or the new, never a mix.
      const existed = fs.existsSync(live);
      await candidate.backup(live, { progress: () => ALL_PAGES });
      if (!existed) fs.chmodSync(live, 0o600);
    } finally {
      candidate.close();
    }
    const db = new Database(live, { fileMustExist: true });
    let applied: number[];
    let to: number;
    try {
      db.pragma("busy_timeout = 5000");
      db.pragma("journal_mode = WAL");
      applied = migrate(db);
      to = db.pragma("user_version", { simple: true }) as number;
    } finally {
      db.close();
    }
    fsyncDir(stateDir);
    return { file: source, database: live, previous, schema_from: from, schema_to: to, migrations_applied: applied };
  } finally {
    for (const f of [scratch, `${scratch}-wal`, `${scratch}-shm`]) fs.rmSync(f, { force: true });
    lock.release();
  }
}
