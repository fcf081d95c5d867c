/**
 * The cluster in `tau status` and `/healthz` (issue 15 §5): nodes with their heartbeat age and liveness (alive while
 * the last heartbeat is within three 2 s intervals), lease holders with their expiry, the ingress lag from the runner
 * state; and health that does not lie — a node whose own heartbeat cannot be written serves `failing`
 * (`cluster_heartbeat_failed`, HTTP 503) even though it can still read the store, and recovers when the write does.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createClusterNode, type ClusterNode } from "../../src/app/cluster.ts";
import { startConnectors, type RunningConnectors } from "../../src/app/connectors-runtime.ts";
import { startHttpServer, type HttpRuntime } from "../../src/app/http-runtime.ts";
import { healthFor, openApp, type App } from "../../src/app/index.ts";
import { readClusterView } from "../../src/health/cluster-view.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { runTau } from "../helpers/run-tau.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { until } from "../helpers/until.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function tempStore(): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-cluster-status-"));
  const store = openStore(dir);
  cleanups.push(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

describe("the cluster view", () => {
  it("a node is alive while its heartbeat is at most 6 s old; leases show holder, fence and expiry; the lag is the runner's queue", () => {
    const store = tempStore();
    store.cluster.heartbeat({ node_id: "tau-a", started_at_ms: 1_000, version: "1.4.0" }, 94_000, {
      instance: "a1",
      pid: 10,
      health: "healthy",
      queue_depth: 3,
      leases: ["poller:telegram:6112"],
    });
    store.cluster.heartbeat({ node_id: "tau-b", started_at_ms: 2_000, version: "1.4.0" }, 93_999, {
      instance: "b1",
      pid: 11,
      health: "degraded",
      queue_depth: 0,
      leases: [],
    });
    store.cluster.acquireLease("poller:telegram:6112", "tau-a", 6000, 98_000, "a1");
    store.cluster.acquireLease("poller:discord:1100", "tau-b", 6000, 80_000, "b1");
    const runner = { queue_depth: 7 } as Parameters<typeof readClusterView>[3];

    expect(readClusterView(store, "tau-b", 100_000, runner)).toEqual({
      node_id: "tau-b",
      nodes: [
        {
          node_id: "tau-a",
          self: false,
          alive: true,
          heartbeat_at_ms: 94_000,
          heartbeat_age_ms: 6_000,
          started_at_ms: 1_000,
          version: "1.4.0",
          health: "healthy",
          queue_depth: 3,
          leases: ["poller:telegram:6112"],
        },
        {
          node_id: "tau-b",
          self: true,
          alive: false,
          heartbeat_at_ms: 93_999,
          heartbeat_age_ms: 6_001,
          started_at_ms: 2_000,
          version: "1.4.0",
          health: "degraded",
          queue_depth: 0,
          leases: [],
        },
      ],
      leases: [
        {
          name: "poller:discord:1100",
          holder: "tau-b",
          instance: "b1",
          fence: 1,
          acquired_at_ms: 80_000,
          expires_at_ms: 86_000,
          expires_in_ms: -14_000,
          live: false,
        },
        {
          name: "poller:telegram:6112",
          holder: "tau-a",
          instance: "a1",
          fence: 1,
          acquired_at_ms: 98_000,
          expires_at_ms: 104_000,
          expires_in_ms: 4_000,
          live: true,
        },
      ],
      ingress_lag: 7,
    });
    expect(readClusterView(store, "tau-a", 100_000, null).ingress_lag).toBeNull();
  });
});

describe("health that does not lie", () => {
  let home: TauHome;
  let app: App;
  let running: RunningConnectors | null = null;
  let http: HttpRuntime | null = null;
  let node: ClusterNode | null = null;
  afterEach(async () => {
    await http?.server.close(1000);
    await running?.stop();
    await node?.stop();
    node = null;
    app?.close();
    home?.cleanup();
    http = null;
    running = null;
  });

  it("/healthz: the node id and the cluster; failing (503) while this node's heartbeat cannot be written, back when it can", async () => {
    home = makeTauHome();
    app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: { TAU_CLUSTER_NODE_ID: "tau-a" } });
    // Another node of the cluster, seen through the shared store.
    app.store.cluster.heartbeat({ node_id: "tau-b", started_at_ms: app.clock(), version: "1.4.0" }, app.clock(), { leases: [] });
    node = createClusterNode(app, { heartbeatMs: 50 });
    running = await startConnectors(app, { cluster: node });
    http = await startHttpServer(app, running, { health: () => healthFor(app), bind: "127.0.0.1:0" });
    const healthz = async () => {
      const r = await fetch(`${http!.server.url}/healthz`);
      return {
        status: r.status,
        body: (await r.json()) as {
          state: string;
          reason_codes: string[];
          node_id: string;
          cluster: { nodes: { node_id: string; self: boolean }[] };
        },
      };
    };

    const ok = await healthz();
    expect(ok.body.state).not.toBe("failing");
    expect(ok.body.node_id).toBe("tau-a");
    expect(ok.body.cluster.nodes.map((n) => [n.node_id, n.self])).toEqual([
      ["tau-a", true],
      ["tau-b", false],
    ]);

    // The store refuses this node's heartbeat write (as a full disk or a revoked grant would); reads still work.
    const raw = new Database(path.join(home.stateDir, "tau.db"));
    raw.exec(
      "CREATE TRIGGER refuse_heartbeat BEFORE UPDATE ON cluster_nodes WHEN NEW.node_id = 'tau-a' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    );
    const failing = await until("the heartbeat failure to show in /healthz", async () => {
      const h = await healthz();
      return h.body.state === "failing" ? h : null;
    });
    expect(failing.status).toBe(503);
    expect(failing.body.reason_codes[0]).toBe("cluster_heartbeat_failed");
    expect(failing.body.cluster.nodes.map((n) => n.node_id)).toEqual(["tau-a", "tau-b"]);
    expect((await fetch(`${http.server.url}/readyz`)).status).toBe(503);

    raw.exec("DROP TRIGGER refuse_heartbeat");
    raw.close();
    const back = await until("the heartbeat to be written again", async () => {
      const h = await healthz();
      return h.body.state !== "failing" ? h : null;
    });
    expect(back.status).toBe(200);
    expect(back.body.reason_codes).not.toContain("cluster_heartbeat_failed");
  });

  it("tau status shows this node, the nodes and the lease holders (human and --json)", async () => {
    home = makeTauHome();
    app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: { TAU_CLUSTER_NODE_ID: "tau-a" } });
    node = createClusterNode(app);
    node.holdLease("poller:telegram:6112", { onAcquired: () => undefined, onLost: () => undefined });
    node.start();

    const args = ["status", "--state-dir", home.stateDir, "--config", home.configPath];
    const json = (await runTau([...args, "--json"], { env: { TAU_CLUSTER_NODE_ID: "tau-c" } })).json<{
      node_id: string;
      cluster: {
        node_id: string;
        nodes: { node_id: string; alive: boolean; self: boolean; leases: string[] }[];
        leases: { name: string; holder: string; live: boolean }[];
      };
    }>();
    expect(json.node_id).toBe("tau-c");
    expect(json.cluster.node_id).toBe("tau-c");
    expect(json.cluster.nodes).toEqual([
      expect.objectContaining({ node_id: "tau-a", alive: true, self: false, leases: ["poller:telegram:6112"] }),
    ]);
    expect(json.cluster.leases).toEqual([expect.objectContaining({ name: "poller:telegram:6112", holder: "tau-a", live: true })]);

    const human = (await runTau(args, { env: { TAU_CLUSTER_NODE_ID: "tau-c" } })).stdout;
    const line = human.split("\n").find((l) => l.startsWith("cluster: "));
    expect(line).toMatch(
      /^cluster: node tau-c; nodes: tau-a alive, heartbeat \d+\.\d s ago; leases: poller:telegram:6112 → tau-a \(expires in \d+\.\d s\)/,
    );
  });
});
