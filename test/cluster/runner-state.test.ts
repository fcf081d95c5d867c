/**
 * Each node's runner state is its own when nodes share a PostgreSQL store (a real PostgreSQL from a temp dir): one
 * shared `runner_state` key made a node's health, `/healthz` and `tau status` show whichever runner wrote last — a node
 * whose runner never ran (or hung) looked healthy behind another's cycles, and one node's failing cycles failed the
 * others. A SQLite state folder (one runner, its lock) keeps the one key. The same for a node's position in its own
 * ingress files (`ingress.driver: files`: the files are the machine's).
 */
import { afterEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { fileCursorKey, runnerStateKey } from "../../src/config/index.ts";
import { readRunnerState } from "../../src/health/health-facts.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { postgresForFile } from "../helpers/postgres.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const server = postgresForFile();
const homes: TauHome[] = [];
const apps: App[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.close();
  for (const h of homes.splice(0)) h.cleanup();
});

/** A node on the shared database; both nodes of a test share one home (files ingress is per machine). */
function node(url: string, id: string): App {
  const h = homes[0] ?? makeTauHome("runner:\n  coalesce_window_ms: 0\nstore:\n  driver: postgres\n");
  if (!homes.includes(h)) homes.push(h);
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env: { TAU_DATABASE_URL: url, TAU_CLUSTER_NODE_ID: id } });
  apps.push(app);
  return app;
}

/** Run the node's runner until nothing is queued; what its cycles read, summed. */
async function drain(app: App): Promise<{ processed: number; duplicates: number }> {
  const r = createAppRunner(app);
  try {
    const reports = await r.runner.drain();
    return {
      processed: reports.reduce((n, c) => n + c.processed, 0),
      duplicates: reports.reduce((n, c) => n + c.duplicates, 0),
    };
  } finally {
    r.close();
  }
}

/** A node on its own machine: its own home (state folder, ingress files) on the shared database. */
function machine(url: string, id: string): App {
  const h = makeTauHome("runner:\n  coalesce_window_ms: 0\n  rotate_min_bytes: 1000000\nstore:\n  driver: postgres\n");
  homes.push(h);
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env: { TAU_DATABASE_URL: url, TAU_CLUSTER_NODE_ID: id } });
  apps.push(app);
  return app;
}

async function dm(app: App, n: number): Promise<void> {
  const w = openIngressWriter(app);
  await w.append("telegram", [makeDm("4242", { event_id: `telegram:6112:u:${n}`, received_at_ms: app.clock(), text: `m${n}` })]);
  await w.close();
}

describe("runner state per node", () => {
  it("a node reads its own runner's cycles, never another node's", async () => {
    const url = await server().createDatabase();
    const a = node(url, "tau-a");
    const b = node(url, "tau-b");
    expect([runnerStateKey(a.config), runnerStateKey(b.config)]).toEqual(["runner_state:tau-a", "runner_state:tau-b"]);

    const w = openIngressWriter(a);
    await w.append("telegram", [makeDm("4242", { event_id: "telegram:6112:u:1", received_at_ms: a.clock(), text: "hello" })]);
    await w.close();
    await drain(a);

    expect(readRunnerState(a.store, a.config)).toMatchObject({ totals: { processed: 1 } });
    // tau-b's runner never ran: its health reads no runner (was: tau-a's cycle, as its own).
    expect(readRunnerState(b.store, b.config)).toBeNull();

    // tau-b's runner counts its own cycles (it continued tau-a's totals before: processed 1).
    await drain(b);
    expect(readRunnerState(b.store, b.config)).toMatchObject({ totals: { processed: 0 } });
    expect(readRunnerState(a.store, a.config)).toMatchObject({ totals: { processed: 1 } });
  }, 120_000);

  it("each node keeps its own position in its own ingress files", async () => {
    const url = await server().createDatabase();
    const a = machine(url, "tau-a");
    const b = machine(url, "tau-b");
    await dm(a, 1);
    await dm(a, 2);
    expect(await drain(a)).toEqual({ processed: 2, duplicates: 0 });
    await dm(b, 10);
    expect(await drain(b)).toEqual({ processed: 1, duplicates: 0 });
    // Before: tau-b's runner had overwritten the one telegram cursor with its own file's, so tau-a read its file again
    // from the start (two duplicates).
    await dm(a, 3);
    expect(await drain(a)).toEqual({ processed: 1, duplicates: 0 });
    expect([
      a.store.runner.cursor(fileCursorKey(a.config, "telegram")),
      a.store.runner.cursor(fileCursorKey(b.config, "telegram")),
    ]).toMatchObject([
      { transport: "telegram@tau-a", line_no: 3 },
      { transport: "telegram@tau-b", line_no: 1 },
    ]);
  }, 120_000);

  it("after the upgrade to per-node cursors a node continues from the cursor it wrote before", async () => {
    const url = await server().createDatabase();
    const c = machine(url, "tau-c");
    await dm(c, 1);
    await dm(c, 2);
    // What the node's runner wrote before: one cursor per transport, after line 1 of this file.
    const file = path.join(c.stateDir, "ingress", "telegram.ndjson");
    const firstLine = fs.readFileSync(file, "utf8").indexOf("\n") + 1;
    c.store.runner.putCursor({ transport: "telegram", file_ino: fs.statSync(file).ino, byte_offset: firstLine, line_no: 1 }, c.clock());
    expect(await drain(c)).toEqual({ processed: 1, duplicates: 0 });
    expect(c.store.runner.cursor("telegram@tau-c")).toMatchObject({ line_no: 2 });
    // A node that has no ingress folder yet, reading that same old key, has nothing to read and nothing to rotate (its
    // cycle opened the ingress lock in the missing folder, and failed).
    const d = machine(url, "tau-d");
    expect(await drain(d)).toEqual({ processed: 0, duplicates: 0 });
  }, 120_000);

  it("a SQLite state folder keeps the one key", () => {
    const h = makeTauHome();
    homes.push(h);
    const app = h.open();
    apps.push(app);
    expect(runnerStateKey(app.config)).toBe("runner_state");
    expect(fileCursorKey(app.config, "telegram")).toBe("telegram");
  });
});
