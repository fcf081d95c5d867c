/**
 * kill -9 of a runner consuming JetStream: `tau process` children are SIGKILLed mid-run (after a fetch, before the
 * batch's commit or its acks); the messages they held come back after ack_wait to the next runner, and every event is
 * processed exactly once and answered once (dry-run receipts). Real nats-server, real SQLite, tau as shipped.
 */
import { spawn } from "node:child_process";
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { inspectStream, startNats, type TestNats } from "../helpers/nats.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const STREAM = "TAU_INGRESS";
let nats: TestNats;
let h: TauHome | null = null;
beforeAll(async () => {
  nats = await startNats();
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});
afterEach(() => h?.cleanup());

function committedEvents(home: TauHome): number {
  if (!fs.existsSync(path.join(home.stateDir, "tau.db"))) return 0;
  try {
    const db = new Database(path.join(home.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT COUNT(*) FROM events").pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0; // schema not there yet
  }
}

/** Run the runner as a child (`tau process`, or `--once`); SIGKILL it once `atEvents` are committed, plus `jitterMs`. */
function runChild(home: TauHome, args: string[], kill: { atEvents: number; jitterMs: number } | null): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["bin/tau.js", "process", ...args, "--state-dir", home.stateDir, "--config", home.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TAU_LOG_LEVEL: "error" },
    });
    let stderr = "";
    let done = false;
    c.stderr.on("data", (d) => (stderr += d));
    const timers: NodeJS.Timeout[] = [];
    if (kill) {
      const poll = setInterval(() => {
        if (done || committedEvents(home) < kill.atEvents) return;
        clearInterval(poll);
        timers.push(setTimeout(() => !done && c.kill("SIGKILL"), kill.jitterMs));
      }, 3);
      timers.push(poll);
    }
    c.on("error", reject);
    c.on("exit", (code, signal) => {
      done = true;
      for (const t of timers) clearTimeout(t);
      if (code !== 0 && signal === null) reject(new Error(`runner exited ${code}: ${stderr}`));
      else resolve(signal);
    });
  });
}

describe("kill -9 of a JetStream runner", () => {
  it("messages held by a killed runner come back after ack_wait; every event is processed exactly once, answered once", async () => {
    h = makeTauHome(
      `runner:\n  coalesce_window_ms: 0\n  batch_size: 25\ningress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: ${STREAM}\n  nats_ack_wait_ms: 1000\n`,
    );
    const app = h.open();
    const w = openIngressWriter(app, true);
    const N = 1500;
    for (let start = 0; start < N; start += 500) {
      await w.append(
        "telegram",
        Array.from({ length: 500 }, (_, i) => makeDm(String(200_000 + start + i), { event_id: `telegram:6112:u:${start + i}` })),
      );
    }
    await w.close();
    app.close();

    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const heldAtKill: number[] = [];
    for (let k = 0; k < 4; k++) {
      const done = committedEvents(h);
      const signal = await runChild(h, [], { atEvents: done + 1 + Math.floor(rand() * 200), jitterMs: Math.floor(rand() * 15) });
      expect(signal).toBe("SIGKILL");
      // What the dead runner had fetched and not acknowledged is still held by the consumer, not lost.
      heldAtKill.push((await inspectStream(nats.url, STREAM)).consumer!.ackPending);
    }
    const progress = committedEvents(h);
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(N);
    // At least one kill landed between a fetch and its acks (the point of the test).
    expect(heldAtKill.some((n) => n > 0)).toBe(true);

    // Another runner drains: the held messages come back after ack_wait (1 s here).
    expect(await runChild(h, ["--once"], null)).toBeNull();

    const db = new Database(path.join(h.stateDir, "tau.db"), { readonly: true });
    try {
      expect(db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM events").get()).toEqual({ n: N, d: N });
      expect(db.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status").all()).toEqual([{ status: "sent", n: N }]);
    } finally {
      db.close();
    }
    const receipts = fs
      .readFileSync(path.join(h.stateDir, "outbox", "dry-run.ndjson"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l).receipt_id as string);
    expect(receipts).toHaveLength(N);
    expect(new Set(receipts).size).toBe(N);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, lastSeq: N, consumer: { pending: 0, ackPending: 0 } });
  }, 180_000);
});
