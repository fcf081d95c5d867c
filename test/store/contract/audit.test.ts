/**
 * Store contract, audit family on every engine: appends chain (each row's prev_hash is the tip before it) and the
 * stored head follows, also when several appends share one unit of work — the runner's batch appends one per command,
 * and on PostgreSQL the tip is then read once per unit of work, not once per append — and when a nested scope that
 * appended is rolled back in the middle of that unit (its row is gone; the next append chains to the tip before it).
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { appendAudit, verifyAudit } from "../../../src/audit/audit-log.ts";
import type { Store } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

const entry = (action: string) => ({
  actor: "telegram:42",
  surface: "chat" as const,
  action,
  target: "tau",
  args: { n: action },
  outcome: "reported",
  reason_code: "command_whoami",
});

function append(store: Store, action: string, at: number) {
  return appendAudit(store, entry(action), at);
}

describe.each(contractEngines())("store contract: audit on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "appends in one unit of work chain to each other; a rolled-back nested append leaves no row and no link",
    async () => {
      const { store } = await engine.open();
      append(store, "before", 1000);
      const rows = store.atomically(() => {
        const a = append(store, "one", 2000);
        const b = append(store, "two", 2001);
        // A nested scope that appended, then failed: rolled back to its savepoint.
        expect(() =>
          store.atomically(() => {
            append(store, "rolled back", 2002);
            throw new Error("the command failed after auditing");
          }),
        ).toThrow(/failed after auditing/);
        const c = append(store, "three", 2003);
        return [a, b, c];
      });
      expect(rows.map((r) => r.seq)).toEqual([2, 3, 4]);
      expect(rows[1]!.prev_hash).toBe(rows[0]!.hash);
      expect(rows[2]!.prev_hash).toBe(rows[1]!.hash);
      // The next unit of work reads the tip again (nothing remembered across units).
      const d = append(store, "after", 3000);
      expect(d).toMatchObject({ seq: 5, prev_hash: rows[2]!.hash });
      expect(store.audit.all().map((r) => r.action)).toEqual(["before", "one", "two", "three", "after"]);
      expect(JSON.parse(store.audit.storedHead()!)).toEqual({ seq: 5, hash: d.hash });
      expect(verifyAudit(store)).toMatchObject({ ok: true, rows: 5 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a unit of work rolled back after appending, and another store appending between two units: each append chains to the committed tip",
    async () => {
      const o = await engine.open();
      const { store } = o;
      const first = append(store, "kept", 1000);
      expect(() =>
        store.atomically(() => {
          append(store, "lost", 2000);
          throw new Error("batch failed");
        }),
      ).toThrow(/batch failed/);
      const next = append(store, "next", 3000);
      expect(next).toMatchObject({ seq: 2, prev_hash: first.hash });
      // Another process or node on the same database appends between this store's units of work.
      const other = engine.reopen(o);
      const theirs = append(other, "theirs", 4000);
      expect(theirs).toMatchObject({ seq: 3, prev_hash: next.hash });
      const mine = append(store, "mine again", 5000);
      expect(mine).toMatchObject({ seq: 4, prev_hash: theirs.hash });
      expect(verifyAudit(store)).toMatchObject({ ok: true, rows: 4 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a page of rows by filter, newest first, and the chain read in ranges — the table is never read whole for them",
    async () => {
      const { store } = await engine.open();
      for (let i = 1; i <= 7; i++)
        appendAudit(
          store,
          {
            ...entry(`a${i}`),
            actor: i % 2 ? "telegram:42" : "web:alice",
            target: i <= 4 ? "tau.status" : "tau.allowlist.add",
            outcome: i === 3 ? "denied" : "reported",
          },
          1000 + i,
        );
      const seqs = (rows: { seq: number }[]) => rows.map((r) => r.seq);
      const any = { actor: "", target: "", outcome: "" };
      expect(seqs(store.audit.filtered(any, 0, 3))).toEqual([7, 6, 5]);
      expect(seqs(store.audit.filtered(any, 3, 3))).toEqual([4, 3, 2]);
      // actor and target by substring, outcome exactly; all three together.
      expect(seqs(store.audit.filtered({ ...any, actor: "alice" }, 0, 10))).toEqual([6, 4, 2]);
      expect(seqs(store.audit.filtered({ ...any, target: "allowlist" }, 0, 10))).toEqual([7, 6, 5]);
      expect(seqs(store.audit.filtered({ ...any, outcome: "denied" }, 0, 10))).toEqual([3]);
      expect(seqs(store.audit.filtered({ actor: "telegram", target: "status", outcome: "reported" }, 0, 10))).toEqual([1]);
      expect(store.audit.filtered({ ...any, outcome: "report" }, 0, 10)).toEqual([]);
      // Ranges for verification: after a sequence, up to another, at most a limit.
      expect(seqs(store.audit.after(2, 6, 3))).toEqual([3, 4, 5]);
      expect(seqs(store.audit.after(5, 6, 3))).toEqual([6]);
      expect(seqs(store.audit.after(0, Number.MAX_SAFE_INTEGER, 100))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
