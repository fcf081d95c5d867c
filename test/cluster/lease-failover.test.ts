/**
 * Two tau nodes sharing state (issue 15 §4, §5), Telegram in polling mode against the local Bot API server, each node
 * through its own counting proxy so every getUpdates is attributed to its node. On SQLite both share one state folder:
 * `tau connectors run` is node tau-b and `tau run` node tau-a (one runner per state folder: the runner lock). On
 * PostgreSQL both are `tau run` with their own state folders and the shared database. Exactly one node polls; the
 * holder is SIGKILLed and the other polls within 10 s, resuming from the shared offset: every update is processed once
 * and none is left unconfirmed. `tau status --json` and `/healthz` show both nodes and the lease holder.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { postgresDriverPresent } from "../store/contract/engines.ts";
import { runTau } from "../helpers/run-tau.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { until } from "../helpers/until.ts";

const BIN = path.resolve("bin/tau.js");
const TOKEN = "6112:LEASE-token_abcdefghijklmnopqrstuvwxy";
const LEASE = "poller:telegram:6112";

/** A pass-through proxy to the Bot API server that counts the API methods its one node calls. */
async function countingProxy(target: string) {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    calls.push((req.url ?? "").split("/").at(-1)!.split("?")[0]!);
    const up = http.request(target + req.url, { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    // The node went away (SIGKILL): end its parked long poll at the server too, as a dropped TCP connection would.
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    getUpdates: () => calls.filter((c) => c === "getUpdates").length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Child {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<NodeJS.Signals | null>;
}

const children: Child[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
    await c.exited;
  }
  for (const f of cleanups.splice(0).reverse()) await f();
});

function spawnTau(home: TauHome, args: string[], env: Record<string, string>): Child {
  let stderr = "";
  const child = spawn(process.execPath, [BIN, ...args, "--state-dir", home.stateDir, "--config", home.configPath], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, TAU_LOG_LEVEL: "error", TAU_CONNECTORS_TELEGRAM_MODE: "polling", TAU_TELEGRAM_BOT_TOKEN: TOKEN, ...env },
  });
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_c, signal) => resolve(signal)));
  const c = { child, stderr: () => stderr, exited };
  children.push(c);
  return c;
}

/** Where the two nodes keep state, and how the test reads it as another process would (null until it exists). */
interface Shared {
  name: string;
  /** The state folder of a node (one shared folder on SQLite). */
  homeOf(node: "tau-a" | "tau-b"): TauHome;
  env: Record<string, string>;
  /** tau-b's command: the connectors alone on SQLite (tau-a's runner owns the folder), the whole service on PostgreSQL. */
  bArgs: string[];
  query<T>(sql: string): Promise<T[] | null>;
}

function sqliteShared(): Shared {
  const home = makeTauHome();
  cleanups.push(() => home.cleanup());
  return {
    name: "sqlite",
    homeOf: () => home,
    env: {},
    bArgs: ["connectors", "run"],
    async query<T>(sql: string) {
      let db: Database.Database;
      try {
        db = new Database(path.join(home.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
      } catch {
        return null;
      }
      try {
        db.pragma("busy_timeout = 2000");
        return db.prepare(sql).all() as T[];
      } catch {
        return null; // not migrated yet
      } finally {
        db.close();
      }
    },
  };
}

let server: Promise<TestPostgres> | null = null;
afterAll(async () => {
  if (server) await (await server).stop();
}, 60_000);

async function postgresShared(): Promise<Shared> {
  server ??= startPostgres();
  const url = await (await server).createDatabase();
  const homes = { "tau-a": makeTauHome(), "tau-b": makeTauHome() };
  cleanups.push(
    () => homes["tau-a"].cleanup(),
    () => homes["tau-b"].cleanup(),
  );
  return {
    name: "postgres",
    homeOf: (n) => homes[n],
    env: { TAU_STORE_DRIVER: "postgres", TAU_DATABASE_URL: url },
    bArgs: ["run"],
    async query<T>(sql: string) {
      const c = new pg.Client({ connectionString: url });
      c.setTypeParser(20, (v: string) => Number(v));
      await c.connect();
      try {
        return (await c.query(sql)).rows as T[];
      } catch {
        return null; // not migrated yet
      } finally {
        await c.end();
      }
    },
  };
}

const holderOf = async (st: Shared) =>
  (await st.query<{ holder: string; expires_at_ms: number }>(`SELECT holder, expires_at_ms FROM leases WHERE name = '${LEASE}'`))?.[0];
const processedIds = async (st: Shared) =>
  ((await st.query<{ event_id: string }>("SELECT event_id FROM events WHERE transport = 'telegram' ORDER BY event_id")) ?? []).map(
    (r) => r.event_id,
  );

function message(updateId: number) {
  const u = 700_000 + updateId;
  return {
    message_id: updateId,
    date: 1_765_000_000,
    chat: { id: u, type: "private", first_name: `U${u}` },
    from: { id: u, is_bot: false, first_name: `U${u}` },
    text: `hello ${updateId}`,
  };
}

interface StatusJson {
  node_id: string;
  cluster: {
    node_id: string;
    nodes: { node_id: string; alive: boolean; self: boolean; heartbeat_age_ms: number; leases: string[] }[];
    leases: { name: string; holder: string; live: boolean; fence: number; expires_in_ms: number }[];
    ingress_lag: number | null;
  };
}

const engines = postgresDriverPresent ? ["sqlite", "postgres"] : ["sqlite"];

describe.each(engines)("the Telegram polling lease across two nodes sharing state on %s", (engine) => {
  it("exactly one node polls; after the holder's SIGKILL the other polls within 10 s and no update is lost or repeated", async () => {
    const tg: TelegramBotApiServer = await startTelegramBotApiServer({ token: TOKEN, maxLongPollSeconds: 2 });
    cleanups.push(() => tg.close());
    const proxyA = await countingProxy(tg.url);
    const proxyB = await countingProxy(tg.url);
    cleanups.push(
      () => proxyA.close(),
      () => proxyB.close(),
    );
    const st = engine === "postgres" ? await postgresShared() : sqliteShared();
    const home = st.homeOf("tau-a");

    // tau-b first: it migrates the state and takes the lease.
    const b = spawnTau(st.homeOf("tau-b"), st.bArgs, {
      ...st.env,
      TAU_CLUSTER_NODE_ID: "tau-b",
      TAU_CONNECTORS_TELEGRAM_API_ROOT: proxyB.url,
      TAU_SERVER_BIND: `127.0.0.1:${await freePort()}`,
    });
    await until(
      "tau-b to poll",
      () => proxyB.getUpdates() > 0 || (b.child.exitCode !== null && Promise.reject(new Error(b.stderr()))),
      30_000,
    );
    expect((await holderOf(st))?.holder).toBe("tau-b");

    // tau-a: the whole service (runner, HTTP server); its Telegram poller stands by.
    const port = await freePort();
    const a = spawnTau(home, ["run"], {
      ...st.env,
      TAU_CLUSTER_NODE_ID: "tau-a",
      TAU_CONNECTORS_TELEGRAM_API_ROOT: proxyA.url,
      TAU_SERVER_BIND: `127.0.0.1:${port}`,
    });
    const healthz = async () => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as StatusJson & { state: string };
    await until(
      "tau-a to serve /healthz",
      () => healthz().catch(() => (a.child.exitCode !== null ? Promise.reject(new Error(a.stderr())) : null)),
      60_000,
    );

    const expected: string[] = [];
    for (let i = 1; i <= 20; i++) expected.push(`telegram:6112:u:${tg.pushUpdate({ update_id: i, message: message(i) })}`);
    await until("updates 1–20 to be processed", async () => (await processedIds(st)).length >= 20, 30_000);
    // tau-a has been up through many lease attempts (every second) and never polled: one poller per account.
    expect(proxyA.getUpdates()).toBe(0);
    expect(tg.requests.filter((r) => r.method === "getUpdates" && r.status === 409)).toEqual([]);

    // Both nodes and the holder, as `tau status --json` (from any shell) and tau-a's /healthz see them.
    const status = (
      await runTau(["status", "--json", "--state-dir", home.stateDir, "--config", home.configPath], {
        env: { ...st.env, TAU_CLUSTER_NODE_ID: "tau-a" },
      })
    ).json<StatusJson>();
    expect(status.node_id).toBe("tau-a");
    expect(status.cluster.nodes.map((n) => [n.node_id, n.alive, n.self])).toEqual([
      ["tau-a", true, true],
      ["tau-b", true, false],
    ]);
    expect(status.cluster.nodes.find((n) => n.node_id === "tau-b")!.leases).toEqual([LEASE]);
    expect(status.cluster.leases).toEqual([expect.objectContaining({ name: LEASE, holder: "tau-b", live: true, fence: 1 })]);
    const h = await healthz();
    expect(h.node_id).toBe("tau-a");
    expect(h.cluster.nodes.map((n) => n.node_id)).toEqual(["tau-a", "tau-b"]);
    expect(h.cluster.leases.map((l) => [l.name, l.holder, l.live])).toEqual([[LEASE, "tau-b", true]]);

    b.child.kill("SIGKILL");
    const killedAt = Date.now();
    expect(await b.exited).toBe("SIGKILL");
    for (let i = 21; i <= 40; i++) expected.push(`telegram:6112:u:${tg.pushUpdate({ update_id: i, message: message(i) })}`);
    // The takeover: tau-a polls within 10 s of the kill (lease TTL 6 s, tried every second).
    await until("tau-a to poll after tau-b's death", () => proxyA.getUpdates() > 0, Math.max(0, killedAt + 10_000 - Date.now()));
    expect((await holderOf(st))?.holder).toBe("tau-a");

    await until("updates 21–40 to be processed", async () => (await processedIds(st)).length >= 40, 30_000);
    // Every update id processed exactly once (the events table is the dedupe record), none left at Telegram.
    expect(await processedIds(st)).toEqual([...expected].sort());
    await until("Telegram to have every update confirmed by the shared offset", () => tg.pendingUpdates().length === 0, 10_000);
    const traces = (
      await runTau(["traces", "--json", "--limit", "100", "--state-dir", home.stateDir, "--config", home.configPath], { env: st.env })
    ).json<{ event_id: string }[]>();
    expect(traces.map((t) => t.event_id).sort()).toEqual([...expected].sort());

    // The status now shows tau-a holding the lease with the next fence and tau-b dead once its heartbeat ages out.
    const after = await until(
      "tau-b to be reported dead",
      async () => {
        const s = (
          await runTau(["status", "--json", "--state-dir", home.stateDir, "--config", home.configPath], {
            env: { ...st.env, TAU_CLUSTER_NODE_ID: "tau-a" },
          })
        ).json<StatusJson>();
        return s.cluster.nodes.find((n) => n.node_id === "tau-b")?.alive === false ? s : null;
      },
      20_000,
    );
    expect(after.cluster.leases).toEqual([expect.objectContaining({ name: LEASE, holder: "tau-a", live: true, fence: 2 })]);
    expect(after.cluster.nodes.find((n) => n.node_id === "tau-a")).toMatchObject({ alive: true, leases: [LEASE] });
  }, 180_000);
});
