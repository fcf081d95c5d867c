/**
 * Three `tau run` nodes sharing PostgreSQL (state) and NATS JetStream (ingress), Telegram webhooks spread over them,
 * one node SIGKILLed under load: every update acknowledged with 200 is processed exactly once and answered at most
 * once. Then the polling lease: three nodes in polling mode, the holder SIGKILLed, another node polls within 10 s and
 * no update is lost or repeated (issue 15 §7). Real servers: PostgreSQL from initdb, nats-server -js, the local Telegram
 * Bot API server; tau as shipped (bin/tau.js).
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.ts";
import { startNats } from "../helpers/nats.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { until } from "../helpers/until.ts";

const BIN = path.resolve("bin/tau.js");
const TOKEN = "6112:CLUSTER-token_abcdefghijklmnopqrstuvw";
const WEBHOOK_SECRET = "cluster-webhook-secret";
const SECRETS_KEY = crypto.randomBytes(32).toString("base64");

type Pg = Awaited<ReturnType<typeof startPostgres>>;
type Nats = Awaited<ReturnType<typeof startNats>>;
let pgServer: Pg;
let nats: Nats;
beforeAll(async () => {
  [pgServer, nats] = await Promise.all([startPostgres(), startNats()]);
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([pgServer?.stop(), nats?.stop()]);
});

interface Node {
  id: string;
  url: string;
  child: ChildProcess;
  home: TauHome;
  stderr: () => string;
  exited: Promise<string | null>;
}
const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) {
    if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill("SIGKILL");
    await n.exited;
    n.home.cleanup();
  }
});

async function startNode(id: string, env: Record<string, string>): Promise<Node> {
  const home = makeTauHome("runner:\n  coalesce_window_ms: 0\n");
  const port = await freePort();
  let stderr = "";
  const child = spawn(process.execPath, [BIN, "run", "--state-dir", home.stateDir, "--config", home.configPath], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      TAU_LOG_LEVEL: "error",
      TAU_SERVER_BIND: `127.0.0.1:${port}`,
      TAU_CLUSTER_NODE_ID: id,
      TAU_SECRETS_KEY: SECRETS_KEY,
      TAU_TELEGRAM_BOT_TOKEN: TOKEN,
      TAU_TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TAU_OUTBOUND_MODE: "provider",
      ...env,
    },
  });
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<string | null>((resolve) => child.once("exit", (_c, signal) => resolve(signal)));
  const node: Node = { id, url: `http://127.0.0.1:${port}`, child, home, stderr: () => stderr, exited };
  nodes.push(node);
  return node;
}

async function waitForHttp(n: Node, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await (await fetch(`${n.url}/healthz`)).arrayBuffer();
      return;
    } catch {
      if (n.child.exitCode !== null) throw new Error(`node ${n.id} exited ${n.child.exitCode}: ${n.stderr()}`);
      if (Date.now() > deadline) throw new Error(`node ${n.id} did not serve within ${timeoutMs} ms: ${n.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A private message from user `u` (its own chat), as Telegram posts it to a webhook. */
function update(updateId: number, u: number) {
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1_765_000_000,
      chat: { id: u, type: "private", first_name: `U${u}` },
      from: { id: u, is_bot: false, first_name: `U${u}` },
      text: `hello from ${u}`,
    },
  };
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** `until`, polling every 200 ms: each probe of the database opens a connection while three nodes run under load. */
const poll = <T>(what: string, probe: () => Promise<T | null | false | undefined>, timeoutMs: number) => until(what, probe, timeoutMs, 200);

describe("three tau nodes on PostgreSQL + NATS JetStream", () => {
  it("a node SIGKILLed under webhook load: every acknowledged update processed exactly once, answered at most once", async () => {
    const tg = await startTelegramBotApiServer({ token: TOKEN });
    try {
      const databaseUrl = await pgServer.createDatabase();
      const stream = `TAU_T${crypto.randomBytes(3).toString("hex").toUpperCase()}`;
      const env = {
        TAU_STORE_DRIVER: "postgres",
        TAU_DATABASE_URL: databaseUrl,
        TAU_INGRESS_DRIVER: "nats",
        TAU_INGRESS_NATS_URL: nats.url,
        TAU_INGRESS_STREAM: stream,
        TAU_INGRESS_NATS_ACK_WAIT_MS: "3000",
        TAU_CONNECTORS_TELEGRAM_MODE: "webhook",
        TAU_CONNECTORS_TELEGRAM_API_ROOT: tg.url,
      };
      // One node first (it migrates the shared database and creates the stream), then the other two.
      const a = await startNode("tau-a", env);
      await waitForHttp(a);
      const [b, c] = await Promise.all([startNode("tau-b", env), startNode("tau-c", env)]);
      await Promise.all([waitForHttp(b), waitForHttp(c)]);
      const ring = [a, b, c];

      const N = 600;
      const acked = new Set<number>();
      let killed = false;
      let next = 0;
      // Eight senders; update i goes to node i % 3 and, when that node is dead, to the next one (Telegram retries).
      const sender = async () => {
        for (;;) {
          const i = next++;
          if (i >= N) return;
          const id = 10_000 + i;
          const body = JSON.stringify(update(id, 500_000 + i));
          for (let attempt = 0; attempt < 6 && !acked.has(id); attempt++) {
            const n = ring[(i + attempt) % ring.length]!;
            try {
              const r = await fetch(`${n.url}/webhooks/telegram`, {
                method: "POST",
                headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": WEBHOOK_SECRET },
                body,
              });
              await r.arrayBuffer();
              if (r.status === 200) acked.add(id);
            } catch {
              // connection refused or reset: the node is dead; try another
            }
          }
          if (!killed && acked.size >= N / 3) {
            killed = true;
            b.child.kill("SIGKILL");
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, sender));
      expect(await b.exited).toBe("SIGKILL");
      expect(acked.size).toBe(N); // the two live nodes took every update the dead one could not

      // Every acknowledged update is processed exactly once (the events table is the dedupe record).
      const events = await poll(
        "every acknowledged update to be processed",
        async () => {
          const rows = await query<{ event_id: string; n: string }>(
            databaseUrl,
            "SELECT event_id, COUNT(*) AS n FROM events WHERE transport = 'telegram' GROUP BY event_id",
          );
          return rows.length >= N ? rows : null;
        },
        90_000,
      );
      expect(events).toHaveLength(N);
      expect(events.filter((r) => Number(r.n) !== 1)).toEqual([]);

      // Every reply settles: the dead node's queued rows go out from a live node once its claims lapse (15 s); the rows it
      // had marked `sending` are in doubt (the request may have arrived) and end `unknown`, never sent again.
      const replies = await poll(
        "every reply to settle",
        async () => {
          const rows = await query<{ conversation_id: string; status: string; reason: string }>(
            databaseUrl,
            "SELECT conversation_id, status, reason FROM outbox WHERE transport = 'telegram'",
          );
          return rows.length >= N && rows.every((r) => !["queued", "retry_scheduled", "sending"].includes(r.status)) ? rows : null;
        },
        90_000,
      );
      const perChat = new Map<number, number>();
      for (const m of tg.sentMessages) perChat.set(Number(m.chat_id), (perChat.get(Number(m.chat_id)) ?? 0) + 1);
      // Answered at most once per update (each update came from its own chat).
      expect([...perChat.entries()].filter(([, n]) => n > 1)).toEqual([]);
      // The live nodes answer the rest: a chat without an answer is exactly a send the dead node had in flight.
      const unanswered = replies.filter((r) => !perChat.has(Number(r.conversation_id)));
      expect(unanswered.filter((r) => r.status !== "unknown" || r.reason !== "delivery_ambiguous")).toEqual([]);
      // And a row recorded sent was answered (an in-doubt one may have been: the request arrived, the node died).
      expect(replies.filter((r) => r.status === "sent" && !perChat.has(Number(r.conversation_id)))).toEqual([]);
      // At most one round of the dead node's sends (64 conversations at once) was in flight.
      expect(unanswered.length).toBeLessThanOrEqual(64);
    } finally {
      await tg.close();
    }
  }, 300_000);

  it("the Telegram polling lease fails over within 10 s of the holder's SIGKILL, no update lost or repeated", async () => {
    const tg = await startTelegramBotApiServer({ token: TOKEN, maxLongPollSeconds: 2 });
    try {
      const databaseUrl = await pgServer.createDatabase();
      const env = {
        TAU_STORE_DRIVER: "postgres",
        TAU_DATABASE_URL: databaseUrl,
        TAU_CONNECTORS_TELEGRAM_MODE: "polling",
        TAU_CONNECTORS_TELEGRAM_API_ROOT: tg.url,
      };
      const first = await startNode("tau-a", env);
      await waitForHttp(first);
      const rest = await Promise.all([startNode("tau-b", env), startNode("tau-c", env)]);
      await Promise.all(rest.map((n) => waitForHttp(n)));
      const holderOf = async () =>
        (await query<{ holder: string }>(databaseUrl, "SELECT holder FROM leases WHERE name LIKE 'poller:telegram%'"))[0]?.holder;
      const holderId = await poll("a node to hold the Telegram polling lease", holderOf, 30_000);
      const holder = nodes.find((n) => n.id === holderId)!;

      const ids: number[] = [];
      for (let i = 0; i < 20; i++) ids.push(tg.pushUpdate({ message: update(i + 1, 700_000 + i).message })!);
      await poll(
        "the first updates to be processed",
        async () => {
          const r = await query<{ n: string }>(databaseUrl, "SELECT COUNT(*) AS n FROM events WHERE transport = 'telegram'");
          return Number(r[0]!.n) >= 20 || null;
        },
        30_000,
      );

      holder.child.kill("SIGKILL");
      const killedAt = Date.now();
      await holder.exited;
      const pollsBefore = tg.callsTo("getUpdates").length;
      for (let i = 20; i < 40; i++) ids.push(tg.pushUpdate({ message: update(i + 1, 700_000 + i).message })!);
      const newHolder = await poll(
        "another node to take the lease",
        async () => {
          const h = await holderOf();
          return h && h !== holderId ? h : null;
        },
        20_000,
      );
      await poll("a getUpdates call by the new holder", async () => tg.callsTo("getUpdates").length > pollsBefore || null, 20_000);
      const takeoverMs = Date.now() - killedAt;
      expect(newHolder).not.toBe(holderId);
      expect(takeoverMs).toBeLessThan(10_000);

      const events = await poll(
        "all 40 updates to be processed",
        async () => {
          const rows = await query<{ event_id: string; n: string }>(
            databaseUrl,
            "SELECT event_id, COUNT(*) AS n FROM events WHERE transport = 'telegram' GROUP BY event_id",
          );
          return rows.length >= 40 ? rows : null;
        },
        30_000,
      );
      expect(events).toHaveLength(40);
      expect(events.every((r) => Number(r.n) === 1)).toBe(true);
      // Confirmed at Telegram by the new holder's next getUpdates (offset past the last one): nothing left behind.
      await poll("every update to be confirmed at Telegram", async () => tg.pendingUpdates().length === 0 || null, 20_000);
    } finally {
      await tg.close();
    }
  }, 180_000);
});
