/**
 * Migration 020 over a real SQLite file: the rate limits' per-second start totals are filled from the jobs a database
 * already holds (the last minute before the upgrade, as the old count saw it), so a limit holds across the upgrade;
 * and a rate check reads at most the seconds of its window however many jobs started in them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { asSchemaVersion } from "../helpers/schema-history.ts";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

const insertJob = (db: Database.Database, id: string, principal: string, attempts: number, updatedAt: number) =>
  db
    .prepare(
      "INSERT INTO responder_jobs (job_id, event_id, responder, conversation_key, session_key, principal, role, envelope, route, reply_target, status, attempts, created_at_ms, updated_at_ms) " +
        "VALUES (?, ?, 'assistant', 'telegram:1', 'telegram:1:1', ?, 'viewer', '{}', '{}', '{}', 'done', ?, 0, ?)",
    )
    .run(id, `ev:${id}`, principal, attempts, updatedAt);

describe("rate-limit start totals (migration 020)", () => {
  it("are filled from the last minute of jobs before the upgrade", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-starts-"));
    dirs.push(dir);
    openStore(dir).close();
    // The database as version 19 left it, with jobs started over the last two minutes before the upgrade.
    const db = new Database(path.join(dir, "tau.db"));
    asSchemaVersion(db, 19);
    const last = 1_800_000_000_000;
    insertJob(db, "old", "telegram:1", 1, last - 90_000);
    insertJob(db, "a", "telegram:1", 1, last - 30_000);
    insertJob(db, "b", "telegram:2", 2, last - 10_000);
    insertJob(db, "never", "telegram:3", 0, last);
    insertJob(db, "c", "telegram:1", 1, last);
    db.close();

    const store = openStore(dir);
    try {
      expect(store.responders.startedByResponderSince("assistant", last - 60_000, 100)).toBe(3);
      expect(store.responders.startedByPrincipalSince("telegram:1", last - 60_000, 100)).toBe(2);
      expect(store.responders.startedByPrincipalSince("telegram:3", last - 60_000, 100)).toBe(0);
    } finally {
      store.close();
    }
  });

  it("a check sums at most a minute of seconds, however many jobs started in it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-starts-"));
    dirs.push(dir);
    const store = openStore(dir);
    try {
      const t0 = 1_800_000_000_000;
      store.atomically(() => {
        for (let i = 0; i < 3000; i++) {
          store.responders.insertJob(
            {
              job_id: `j${i}`,
              event_id: `ev:${i}`,
              responder: "assistant",
              conversation_key: `telegram:${i}`,
              session_key: `telegram:${i}:1`,
              principal: `telegram:${i % 7}`,
              role: "viewer",
              envelope: "{}",
              route: "{}",
              reply_target: "{}",
            },
            t0,
          );
          store.responders.claim(`j${i}`, t0 + i * 20);
        }
      });
      expect(store.responders.startedByResponderSince("assistant", t0, 1_000_000)).toBe(3000);
      expect(store.responders.startedByResponderSince("assistant", t0 + 30_000, 1_000_000)).toBe(1500);
      const db = new Database(path.join(dir, "tau.db"), { readonly: true });
      try {
        // One row per second of starts, read through the primary key.
        expect(db.prepare("SELECT COUNT(*) FROM responder_starts WHERE scope = 'r:assistant'").pluck().get()).toBe(60);
        const plan = db
          .prepare("EXPLAIN QUERY PLAN SELECT COALESCE(SUM(n), 0) AS n FROM responder_starts WHERE scope = ? AND at_s >= ?")
          .all("r:assistant", 0) as { detail: string }[];
        expect(plan.map((r) => r.detail).join(" ")).toMatch(/SEARCH responder_starts USING PRIMARY KEY \(scope=\? AND at_s>\?\)/);
      } finally {
        db.close();
      }
    } finally {
      store.close();
    }
  });
});
