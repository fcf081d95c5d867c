/**
 * @module Test helper for kill -9 tests: run `tau process` (as shipped, `bin/tau.js`) as a child and SIGKILL it after a
 * fixed time or once the state holds enough committed events, reading progress over a read-only WAL connection.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { TauHome } from "./tau-home.ts";

/** When to kill -9 the child: after a fixed time (covers startup), or once `events` holds at least `atEvents` rows, plus `jitterMs`. */
export type KillPlan = { afterMs: number } | { atEvents: number; jitterMs: number } | null;

/** Run `fn` over a read-only WAL connection to the state database (never blocks the child). */
export function readState<T>(home: TauHome, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(home.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Committed events so far (0 before the state or its schema exists). */
export function committedEvents(home: TauHome): number {
  if (!fs.existsSync(path.join(home.stateDir, "tau.db"))) return 0;
  try {
    return readState(home, (db) => db.prepare("SELECT COUNT(*) FROM events").pluck().get() as number);
  } catch {
    return 0; // schema not there yet
  }
}

/** Run `tau process <args>` as a child and kill -9 it as planned (or let it finish when the plan is null). */
export function runProcessChild(home: TauHome, args: string[], plan: KillPlan): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["bin/tau.js", "process", ...args, "--state-dir", home.stateDir, "--config", home.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TAU_LOG_LEVEL: "error" },
    });
    let stderr = "";
    let done = false;
    c.stderr.on("data", (d) => (stderr += d));
    const timers: NodeJS.Timeout[] = [];
    const kill = () => !done && c.kill("SIGKILL");
    if (plan && "afterMs" in plan) timers.push(setTimeout(kill, plan.afterMs));
    if (plan && "atEvents" in plan) {
      // Progress-based, so a slow start on a loaded machine cannot make every kill land before any work.
      const poll = setInterval(() => {
        if (done || committedEvents(home) < plan.atEvents) return;
        clearInterval(poll);
        timers.push(setTimeout(kill, plan.jitterMs));
      }, 3);
      timers.push(poll);
    }
    c.on("error", reject);
    c.on("exit", (code, signal) => {
      done = true;
      for (const t of timers) clearTimeout(t);
      if (code !== 0 && signal === null) reject(new Error(`runner exited ${code}: ${stderr}`));
      else resolve({ code, signal });
    });
  });
}

/** The receipt ids in the state's dry-run outbox file, in order (one per reply chunk written). */
export function dryRunReceiptIds(home: TauHome): string[] {
  return fs
    .readFileSync(path.join(home.stateDir, "outbox", "dry-run.ndjson"), "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => (JSON.parse(l) as { receipt_id: string }).receipt_id);
}
