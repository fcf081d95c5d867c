/**
 * Migration 018 over a real SQLite file: the daily token totals are filled from the calls a database already holds,
 * and the daily budget's read is one row of them however many calls the day has seen (it summed every call of the day
 * before each job, twice).
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

const DAY = 86_400_000;
const insertCall = (db: Database.Database, responder: string, at: number, input: number, output: number) =>
  db
    .prepare(
      "INSERT INTO responder_calls (job_id, responder, transport, provider, model, principal, input_tokens, output_tokens, latency_ms, reason, at_ms) " +
        "VALUES ('j', ?, 'telegram', 'openai', 'm', 'telegram:1', ?, ?, 10, 'responder_replied', ?)",
    )
    .run(responder, input, output, at);

describe("daily token totals (migration 018)", () => {
  it("are filled from the calls recorded before the upgrade, per responder and UTC day", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-usage-daily-"));
    dirs.push(dir);
    openStore(dir).close();
    // The database as version 17 left it, with calls on two days.
    const db = new Database(path.join(dir, "tau.db"));
    asSchemaVersion(db, 17);
    insertCall(db, "assistant", 10, 100, 20);
    insertCall(db, "assistant", DAY - 1, 1, 2);
    insertCall(db, "assistant", DAY + 5, 7, 0);
    insertCall(db, "n8n", 50, 0, 0);
    db.close();

    const store = openStore(dir);
    try {
      expect(store.responders.tokensOnDay("assistant", 0)).toBe(123);
      expect(store.responders.tokensOnDay("assistant", DAY)).toBe(7);
      expect(store.responders.tokensOnDay("n8n", 0)).toBe(0);
    } finally {
      store.close();
    }
  });

  it("answer the budget from one row however many calls the day has seen", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-usage-daily-"));
    dirs.push(dir);
    const store = openStore(dir);
    try {
      store.atomically(() => {
        for (let i = 0; i < 5000; i++)
          store.responders.recordCall({
            job_id: `j${i}`,
            responder: "assistant",
            transport: "telegram",
            provider: "openai",
            model: "m",
            principal: "telegram:1",
            input_tokens: 3,
            output_tokens: 2,
            cached_tokens: 0,
            ttft_ms: null,
            latency_ms: 10,
            reason: "responder_replied",
            at_ms: 1000 + i,
          });
      });
      expect(store.responders.tokensOnDay("assistant", 0)).toBe(25_000);
    } finally {
      store.close();
    }
    // The day's calls are summed once, as they are recorded: the budget reads the day's one row.
    const db = new Database(path.join(dir, "tau.db"), { readonly: true });
    try {
      expect(db.prepare("SELECT responder, day_ms, tokens FROM responder_usage_daily").all()).toEqual([
        { responder: "assistant", day_ms: 0, tokens: 25_000 },
      ]);
    } finally {
      db.close();
    }
  });
});
