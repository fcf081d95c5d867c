/**
 * The product on a shared PostgreSQL store, as an operator runs it: `store.driver: postgres` in tau.yaml, the URL
 * stored with `tau secrets set database-url` (it lands in the node's local store), events ingested, then the real
 * `tau process --once` (the runner's one-transaction-per-batch on PostgreSQL) in a child process; a second pass and a
 * re-ingested copy answer nothing twice (dedupe), and `tau events`/`tau traces` read the shared state.
 */
import { afterEach, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { PgDb } from "../../src/store/pg/pg-db.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { postgresForFile } from "../helpers/postgres.ts";
import { runTau } from "../helpers/run-tau.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const server = postgresForFile();
const homes: TauHome[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});

const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

function count(url: string, sql: string): number {
  const db = new PgDb(url);
  try {
    return db.prepare<[], number>(sql).pluck().get()!;
  } finally {
    db.close();
  }
}

describe("tau on a PostgreSQL store", () => {
  it("ingest + process --once commit each batch on PostgreSQL; nothing is processed or answered twice", async () => {
    const url = await server().createDatabase();
    const h = makeTauHome("runner:\n  coalesce_window_ms: 0\nstore:\n  driver: postgres\n");
    homes.push(h);
    // Before the URL is set, a command that needs the shared store says how to set it (exit 2 would be usage; any
    // non-zero code with the hint is what an operator needs).
    const before = await runTau([...g(h), "process", "--once"]);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain("tau secrets set database-url");
    const set = await runTau([...g(h), "secrets", "set", "database-url"], { input: url });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout + set.stderr).not.toContain(server().password);

    const dms = [1, 2, 3].map((n) => makeDm("4242", { event_id: `telegram:6112:u:${n}`, received_at_ms: Date.now(), text: "/tau help" }));
    const app = h.open();
    const w = openIngressWriter(app);
    await w.append("telegram", dms);
    await w.close();
    app.close();

    const first = await runTau([...g(h), "process", "--once"]);
    expect(first.code, first.stderr).toBe(0);
    expect(count(url, "SELECT COUNT(*) FROM events")).toBe(3);
    const replies = count(url, "SELECT COUNT(*) FROM outbox");
    expect(replies).toBe(3);

    // The same updates again (a webhook redelivered): deduplicated in the shared store.
    const again = h.open();
    const w2 = openIngressWriter(again);
    await w2.append("telegram", dms);
    await w2.close();
    again.close();
    const second = await runTau([...g(h), "process", "--once"]);
    expect(second.code, second.stderr).toBe(0);
    expect(count(url, "SELECT COUNT(*) FROM events")).toBe(3);
    expect(count(url, "SELECT COUNT(*) FROM outbox")).toBe(replies);

    const traces = await runTau([...g(h), "traces", "--json"]);
    expect(traces.code, traces.stderr).toBe(0);
    expect((traces.json() as { event_id: string }[]).map((t) => t.event_id).sort()).toEqual(dms.map((d) => d.event_id).sort());
    // The URL stayed local: the shared database holds no copy of it.
    expect(count(url, "SELECT COUNT(*) FROM secrets")).toBe(0);
  }, 120_000);
});
