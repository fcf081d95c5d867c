import Database from "better-sqlite3";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appendAudit, redactArgs, verifyAudit, verifyAuditInTurns } from "../../src/audit/audit-log.ts";
import { createStore } from "../../src/store/index.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());

function seed(): { file: string } {
  home = makeTauHome();
  const app = home.open(() => 1000);
  for (let i = 0; i < 5; i++)
    appendAudit(
      app.store,
      {
        actor: "cli:ops",
        surface: "cli",
        action: "allowlist.add",
        target: `telegram:${i}`,
        args: { note: "n", token: "123:SECRET" },
        outcome: "added",
        reason_code: "allowlist_added",
      },
      1000 + i,
    );
  expect(verifyAudit(app.store)).toEqual({ ok: true, rows: 5, problems: [] });
  app.close();
  return { file: path.join(home.stateDir, "tau.db") };
}

describe("audit log", () => {
  it("redacts secrets in stored arguments", () => {
    expect(redactArgs({ token: "x", nested: { api_key: "y", keep: 1 }, list: [{ password: "z" }] })).toEqual({
      token: "[redacted]",
      nested: { api_key: "[redacted]", keep: 1 },
      list: [{ password: "[redacted]" }],
    });
    const { file } = seed();
    const db = new Database(file);
    expect(db.prepare("SELECT args FROM audit WHERE seq = 1").pluck().get()).toBe('{"note":"n","token":"[redacted]"}');
    db.close();
  });

  it("refuses updates and deletes at the database level", () => {
    const { file } = seed();
    const db = new Database(file);
    expect(() => db.prepare("UPDATE audit SET outcome = 'x' WHERE seq = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare("DELETE FROM audit WHERE seq = 2").run()).toThrow(/append-only/);
    db.close();
  });

  it("detects an edited row, a deleted middle row and a deleted tail row made around the triggers", () => {
    const { file } = seed();
    const db = new Database(file);
    db.exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
    db.prepare("UPDATE audit SET target = 'telegram:666' WHERE seq = 2").run();
    let r = verifyAudit(createStore(db));
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.seq, p.code])).toEqual([[2, "audit_row_edited"]]);
    db.prepare("UPDATE audit SET target = 'telegram:1' WHERE seq = 2").run();
    expect(verifyAudit(createStore(db)).ok).toBe(true);
    db.prepare("DELETE FROM audit WHERE seq = 3").run();
    r = verifyAudit(createStore(db));
    expect(r.problems.map((p) => p.code)).toEqual(["audit_row_missing", "audit_chain_broken"]);
    db.close();
    const { file: f2 } = seed();
    const db2 = new Database(f2);
    db2.exec("DROP TRIGGER audit_no_delete;");
    db2.prepare("DELETE FROM audit WHERE seq = 5").run();
    expect(verifyAudit(createStore(db2)).problems.map((p) => p.code)).toEqual(["audit_head_mismatch"]);
    db2.close();
  });

  it("a row added past the recorded head is a head mismatch, rows appended during a verification are not", async () => {
    const { file } = seed();
    const db = new Database(file);
    // A row put in by hand (the head left as it was): the table runs past the head.
    const last = db.prepare("SELECT * FROM audit WHERE seq = 5").get() as Record<string, unknown>;
    db.prepare(
      "INSERT INTO audit (seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash) VALUES (6, 2000, 'x', 'cli', 'a', 't', '{}', 'o', 'r', ?, 'h')",
    ).run(last.hash);
    expect(verifyAudit(createStore(db)).problems.map((p) => p.code)).toEqual(["audit_row_edited", "audit_head_mismatch"]);
    db.close();

    // The page's verification gives the event loop a turn between chunks of 2,000 rows; appends made in those turns
    // (the runner's, the page's own) are checked too and do not read as a truncated log.
    home?.cleanup();
    home = makeTauHome();
    const app = home.open(() => 1000);
    try {
      const row = (i: number) => ({
        actor: "cli:ops",
        surface: "cli" as const,
        action: "allowlist.add",
        target: `telegram:${i}`,
        args: {},
        outcome: "added",
        reason_code: "allowlist_added",
      });
      app.store.atomically(() => {
        for (let i = 0; i < 4500; i++) appendAudit(app.store, row(i), 1000 + i);
      });
      let turns = 0;
      const ticker = setInterval(() => {
        turns += 1;
        appendAudit(app.store, row(9000 + turns), 9000 + turns);
      }, 0);
      const r = await verifyAuditInTurns(app.store);
      clearInterval(ticker);
      // Before: one synchronous pass over the whole table, no turn for anything else.
      expect(turns).toBeGreaterThan(0);
      expect(r).toEqual({ ok: true, rows: 4500 + turns, problems: [] });
    } finally {
      app.close();
    }
  });
});
