/**
 * Each node's runner state is its own when nodes share a PostgreSQL store (a real PostgreSQL from a temp dir): one
 * shared `runner_state` key made a node's health, `/healthz` and `tau status` show whichever runner wrote last — a node
 * whose runner never ran (or hung) looked healthy behind another's cycles, and one node's failing cycles failed the
 * others. A SQLite state folder (one runner, its lock) keeps the one key.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { runnerStateKey } from "../../src/config/index.ts";
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

async function drain(app: App): Promise<void> {
  const r = createAppRunner(app);
  try {
    await r.runner.drain();
  } finally {
    r.close();
  }
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

  it("a SQLite state folder keeps the one key", () => {
    const h = makeTauHome();
    homes.push(h);
    const app = h.open();
    apps.push(app);
    expect(runnerStateKey(app.config)).toBe("runner_state");
  });
});
