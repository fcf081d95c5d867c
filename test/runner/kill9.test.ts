import { spawn } from "node:child_process";
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome | null = null;
afterEach(() => h?.cleanup());

/** When to kill -9 the child: after a fixed time (covers startup), or once `events` holds at least `atEvents` rows, plus `jitterMs`. */
type KillPlan = { afterMs: number } | { atEvents: number; jitterMs: number } | null;

/** Run `fn` over a read-only WAL connection to the state database (never blocks the child). */
function readState<T>(home: TauHome, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(home.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Committed events so far. */
function committedEvents(home: TauHome): number {
  if (!fs.existsSync(path.join(home.stateDir, "tau.db"))) return 0;
  try {
    return readState(home, (db) => db.prepare("SELECT COUNT(*) FROM events").pluck().get() as number);
  } catch {
    return 0; // schema not there yet
  }
}

/** Run `tau process --once` as a child and kill -9 it as planned (or let it finish when the plan is null). */
function runChild(home: TauHome, plan: KillPlan): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["bin/tau.js", "process", "--once", "--state-dir", home.stateDir, "--config", home.configPath], {
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

describe("kill -9 during processing", () => {
  it("processes every one of 10,000 events exactly once and never duplicates a reply", async () => {
    h = makeTauHome("runner:\n  coalesce_window_ms: 0\n  batch_size: 50\n  queue_limit: 200\n");
    const app = h.open();
    const w = openIngressWriter(app, true);
    const N = 10_000;
    for (let start = 0; start < N; start += 1000) {
      await w.append(
        "telegram",
        Array.from({ length: 1000 }, (_, i) => makeDm(String(100_000 + start + i), { event_id: `telegram:6112:u:${start + i}` })),
      );
    }
    await w.close();
    app.close();

    // Deterministic pseudo-random kill points (seeded LCG), covering startup, mid-batch and delivery.
    let seed = 42;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let kills = 0;
    const progressAtKill: number[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      // Two kills at a random time (startup, migrations, recovery), then six at random progress points with
      // 0–20 ms of jitter (mid-batch, mid-delivery, mid-commit), then run to completion.
      const done = committedEvents(h);
      const plan: KillPlan =
        kills < 2
          ? { afterMs: 200 + Math.floor(rand() * 800) }
          : kills < 8
            ? { atEvents: done + 1 + Math.floor(rand() * Math.max(1, (N - done) / 3)), jitterMs: Math.floor(rand() * 20) }
            : null;
      const r = await runChild(h, plan);
      if (r.signal !== "SIGKILL") break;
      kills += 1;
      progressAtKill.push(committedEvents(h));
    }
    // The kills must have landed mid-run (some progress, not all), or this test proves nothing.
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(progressAtKill.some((n) => n > 0 && n < N)).toBe(true);

    const events = readState(h, (db) => db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM events").get());
    expect(events).toEqual({ n: N, d: N });
    expect(readState(h, (db) => db.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status").all())).toEqual([
      { status: "sent", n: N },
    ]);
    const receipts = fs
      .readFileSync(path.join(h.stateDir, "outbox", "dry-run.ndjson"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).receipt_id as string);
    expect(receipts).toHaveLength(N);
    expect(new Set(receipts).size).toBe(N);
  }, 240_000);
});
