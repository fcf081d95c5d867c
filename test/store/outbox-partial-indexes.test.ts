/**
 * Migration 019 over a real SQLite file: the outbox's (and the email/SMS deliveries') partial indexes state their conditions as OR-ed equalities (an IN
 * list in a partial index's condition is evaluated on every insert and update of the outbox, and cost ≈ 3.7 µs of an
 * insert's ≈ 12 µs), and every statement of the store that reads pending or attention rows still uses its index —
 * SQLite takes a partial index only for a query term that matches the condition, and otherwise scans the outbox
 * without a word.
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
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-outbox-idx-"));
  dirs.push(dir);
  return dir;
};

const conditionOf = (db: Database.Database, name: string): string =>
  String(db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").pluck().get(name));

/** Every SQL text the store prepares while it opens (the outbox store prepares its statements up front). */
function preparedByStore(dir: string): string[] {
  const texts = new Set<string>();
  const proto = Database.prototype as unknown as { prepare: (sql: string) => unknown };
  const prepare = proto.prepare;
  proto.prepare = function (this: unknown, sql: string) {
    texts.add(sql);
    return prepare.call(this, sql);
  };
  try {
    openStore(dir).close();
  } finally {
    proto.prepare = prepare;
  }
  return [...texts];
}

/** The query plan of `sql` with every parameter bound (plans do not depend on the values). */
function planOf(db: Database.Database, sql: string): string {
  const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
  const positional = (sql.match(/\?/g) ?? []).length;
  const args = named.length ? [Object.fromEntries(named.map((k) => [k, "x"]))] : Array.from({ length: positional }, () => "x");
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[];
  return rows.map((r) => r.detail).join(" | ");
}

describe("the outbox's partial indexes (migration 019)", () => {
  it("state their conditions without an IN list, also in a database upgraded from version 18", () => {
    const dir = tmp();
    openStore(dir).close();
    const db = new Database(path.join(dir, "tau.db"));
    // The database as version 18 left it: IN lists, and a row of each kind.
    asSchemaVersion(db, 18);
    for (const [id, status] of [
      ["ob_1", "queued"],
      ["ob_2", "dead_letter"],
      ["ob_3", "sent"],
    ])
      db.prepare(
        "INSERT INTO outbox (outbox_id, transport, account_id, conversation_id, mode, purpose, status, chunk_count, created_at_ms, updated_at_ms) " +
          "VALUES (?, 'telegram', '1', '42', 'provider', 'reply', ?, 1, 0, 0)",
      ).run(id, status);
    db.close();

    const store = openStore(dir);
    try {
      expect(store.outbox.countPending()).toBe(1);
      expect(store.outbox.countInStatus("dead_letter")).toBe(1);
    } finally {
      store.close();
    }
    const after = new Database(path.join(dir, "tau.db"), { readonly: true });
    try {
      expect(after.pragma("user_version", { simple: true })).toBeGreaterThanOrEqual(19);
      for (const name of ["outbox_pending", "outbox_attention", "comms_deliveries_retry"])
        expect(conditionOf(after, name)).not.toMatch(/\bIN\s*\(/i);
    } finally {
      after.close();
    }
  });

  it("are used by every statement of the store that reads pending or attention rows", () => {
    const dir = tmp();
    const texts = preparedByStore(dir);
    const db = new Database(path.join(dir, "tau.db"), { readonly: true });
    try {
      // The rows' own status tested (not a neighbour's, as in "an earlier reply of this chat is pending").
      const pending = texts.filter((t) => /(WHERE|AND) \((o\.)?status = 'queued' OR/.test(t));
      const attention = texts.filter((t) => /\((o\.)?status = 'dead_letter' OR/.test(t));
      // The delivery reads (pending, claims, counts) and the dead-letter reads (health counts, lists, replay).
      expect(pending.length).toBeGreaterThanOrEqual(9);
      expect(attention.length).toBeGreaterThanOrEqual(4);
      for (const t of pending) expect(planOf(db, t), t).toMatch(/outbox_pending/);
      for (const t of attention) expect(planOf(db, t), t).toMatch(/outbox_attention/);
      // Email and SMS deliveries that failed or timed out (the retry pass and the dead-letter list).
      const retry = texts.filter((t) => /\(status = 'failed' OR status = 'timeout'\) AND live = 1/.test(t));
      expect(retry.length).toBeGreaterThanOrEqual(2);
      for (const t of retry) expect(planOf(db, t), t).toMatch(/comms_deliveries_retry/);
    } finally {
      db.close();
    }
  });
});
