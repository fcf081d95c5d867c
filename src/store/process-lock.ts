/**
 * @module Cross-process exclusive locks that the kernel releases when a holder dies (kill -9 included):
 * an SQLite `BEGIN EXCLUSIVE` on a dedicated lock file. No stale-lock guessing by pid or mtime.
 */
import Database from "better-sqlite3";
import fs from "node:fs";
import { TauError } from "../contracts/errors.ts";

/** A lock held only around short critical sections (ingress appends, rotation). */
export interface ShortLock {
  /** Run `fn` while holding the lock; waits up to the busy timeout for other holders. */
  withLock<T>(fn: () => T): T;
  close(): void;
}

function openLockDb(file: string, busyMs: number): Database.Database {
  const existed = fs.existsSync(file);
  const db = new Database(file);
  if (!existed) fs.chmodSync(file, 0o600);
  db.pragma(`busy_timeout = ${busyMs}`);
  db.pragma("journal_mode = DELETE");
  return db;
}

/** Open a short-section lock on `file` (created 0600). */
export function openShortLock(file: string, busyMs = 10_000): ShortLock {
  const db = openLockDb(file, busyMs);
  const begin = db.prepare("BEGIN EXCLUSIVE");
  const commit = db.prepare("COMMIT");
  return {
    withLock<T>(fn: () => T): T {
      try {
        begin.run();
      } catch (err) {
        throw new TauError("LOCK_TIMEOUT", `could not lock ${file} within ${busyMs} ms`, { cause: err });
      }
      try {
        return fn();
      } finally {
        commit.run();
      }
    },
    close: () => db.close(),
  };
}

/** A lock held for a process lifetime (one runner per state dir). Throws at once if another process holds it. */
export function acquireLifetimeLock(file: string, what: string): { release(): void } {
  let db: Database.Database | null = null;
  try {
    db = openLockDb(file, 0);
    db.prepare("BEGIN EXCLUSIVE").run();
  } catch (err) {
    db?.close();
    throw new TauError("ALREADY_RUNNING", `another ${what} is already running on this state dir (${file} is locked)`, {
      cause: err,
      hint: `stop the other ${what}, or use a different --state-dir`,
    });
  }
  const held = db;
  return {
    release: () => {
      held.prepare("COMMIT").run();
      held.close();
    },
  };
}
