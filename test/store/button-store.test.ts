/** Button tokens (migration 009) on a real SQLite file, and outbox rows written before 009 still read as plain replies. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { listMigrations, migrate, openStore } from "../../src/store/index.ts";
import { parseRich, renderChunk } from "../../src/outbound/format.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-buttons-store-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("button tokens", () => {
  it("stores, finds, retires every token of a decided target once, and prunes long-expired ones", () => {
    const store = openStore(tmp());
    const base = { target_hash: "05c7de8e", transport: "telegram", conversation_id: "-100", created_at_ms: 1000, expires_at_ms: 5000 };
    store.buttons.insert({ token: "tau:aaaaaaaaaaaaaaaa", action: "approve", target_id: "ap_1", ...base });
    store.buttons.insert({ token: "tau:bbbbbbbbbbbbbbbb", action: "deny", target_id: "ap_1", ...base });
    store.buttons.insert({ token: "tau:cccccccccccccccc", action: "approve", target_id: "ap_2", ...base, expires_at_ms: 900 });
    expect(store.buttons.get("tau:aaaaaaaaaaaaaaaa")).toMatchObject({ action: "approve", target_id: "ap_1", used_at_ms: null });
    expect(store.buttons.get("tau:nope")).toBeUndefined();
    expect(store.buttons.retire("ap_1", "telegram:1002", 2000)).toBe(2);
    expect(store.buttons.retire("ap_1", "telegram:1003", 3000)).toBe(0);
    expect(store.buttons.get("tau:bbbbbbbbbbbbbbbb")).toMatchObject({ used_at_ms: 2000, used_by: "telegram:1002" });
    expect(store.buttons.forTarget("ap_1").map((t) => t.action)).toEqual(["approve", "deny"]);
    expect(store.buttons.prune(1000)).toBe(1);
    expect(store.buttons.get("tau:cccccccccccccccc")).toBeUndefined();
    store.close();
  });

  it("an outbox row written before migration 009 is still read, as a plain reply", () => {
    const dir = tmp();
    const db = new Database(path.join(dir, "tau.db"));
    for (const m of listMigrations().filter((m) => m.version <= 8)) {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    db.prepare(
      "INSERT INTO outbox (outbox_id, event_id, transport, account_id, conversation_id, thread_id, reply_to, mode, purpose, status, reason, chunk_count, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms) VALUES ('ob_old', 'e1', 'telegram', '6112', '42', NULL, NULL, 'provider', 'command', 'queued', NULL, 1, 0, 0, 1, 1)",
    ).run();
    expect(migrate(db)).toContain(9);
    db.close();
    const store = openStore(dir);
    const row = store.outbox.get("ob_old")!;
    expect(row.rich).toBeNull();
    expect(parseRich(row.rich)).toBeNull();
    expect(renderChunk("telegram", parseRich(row.rich), 0, 1, "hello")).toEqual({});
    store.close();
  });
});
