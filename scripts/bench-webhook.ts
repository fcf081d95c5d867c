/**
 * @module Webhook intake benchmark: (a) a bare Hono handler, (b) durable WhatsApp ingress (signature +
 * normalize + group-committed fsync before the 200), (c) tau's Telegram webhook path vs grammY's own
 * `webhookCallback(bot, "hono")` doing the same normalize + durable append. Servers run in this process;
 * the load comes from a separate process (scripts/bench-webhook-loadgen.ts), pinned to another CPU with
 * `taskset` when available. c=16 and c=64, each run ≤ 5 s. Prints a table, the ratios, and one JSON line.
 *
 * grammY is imported here only as the comparison baseline (tau's own code imports it only in connectors/telegram/).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Bot, webhookCallback, type Context } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { Hono } from "hono";
import { createTelegramConnector } from "../connectors/telegram/inbound.ts";
import { normalizeTelegramUpdate } from "../connectors/telegram/normalize.ts";
import { createWhatsAppConnector } from "../connectors/whatsapp/inbound.ts";
import type { Connector, ConnectorDeps } from "../connectors/shared/connector.ts";
import type { BotIdentity } from "../src/contracts/envelope.ts";
import { createIngressWriter, type IngressWriter } from "../src/ingress/writer.ts";
import { createMetrics } from "../src/health/metrics.ts";
import { createServer, startServer, type MountedRoute, type RunningServer } from "../src/server/index.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const CONCURRENCY = [16, 64];
const WARMUP_MS = 500;
const DURATION_MS = 3000;
/** Interleaved rounds per concurrency; each target keeps its best run (shared CPUs and disks are noisy). */
const ROUNDS = 3;
const WA_SECRET = "bench-app-secret";
const TG_SECRET = "bench-telegram-secret";
const TG_TOKEN = "6112:AAH-bench-token";
const IDENTITY: BotIdentity = {
  telegram: { bot_id: "6112", username: "tau_ops_bot" },
  discord: { user_id: "1100000000000000001", application_id: "1100000000000000001" },
  whatsapp: { phone_number_id: "106540352242922" },
  email: { account_id: "ops" },
};
const silent = { info() {}, warn() {}, error() {} };

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0 && os.cpus().length >= 2;
if (hasTaskset) spawnSync("taskset", ["-p", "-c", "0", String(process.pid)], { stdio: "ignore" });

interface LoadResult {
  count: number;
  /** Successful requests including the warm-up. */
  total: number;
  errors: number;
  elapsed_ms: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

function load(url: string, kind: "bare" | "whatsapp" | "telegram", concurrency: number, secret: string): Promise<LoadResult> {
  const spec = JSON.stringify({
    url,
    kind,
    concurrency,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
    secret,
    runId: `${Date.now()}_${concurrency}`,
  });
  const node = [process.execPath, "--import", "tsx", path.join(here, "bench-webhook-loadgen.ts"), spec];
  const [cmd, ...args] = hasTaskset ? ["taskset", "-c", "1", ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`loadgen exited ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)!) as LoadResult);
    });
  });
}

interface Target {
  name: string;
  /** Where the ingress file lives: the real disk (os.tmpdir()) or tmpfs, where fsync is ~free and CPU cost shows. */
  storage?: "disk" | "tmpfs";
  kind: "bare" | "whatsapp" | "telegram";
  secret: string;
  path: string;
  start(writer: IngressWriter): Promise<{ app: Hono; stop(): Promise<void> }>;
}

function deps(writer: IngressWriter, secrets: Record<string, string>): ConnectorDeps {
  return {
    ingress: writer,
    cursors: { get: () => undefined, put: () => undefined },
    identity: IDENTITY,
    logger: silent,
    clock: Date.now,
    secret: (id) => secrets[id] ?? null,
  };
}

function served(connector: Connector, extra: MountedRoute[] = []): Hono {
  return createServer({
    routes: [...(connector.webhooks ?? []), ...extra],
    health: () => ({ state: "healthy" }),
    ready: () => [],
    metrics: createMetrics(),
    maxBodyBytes: 1 << 20,
    clock: Date.now,
  });
}

const TARGETS: Target[] = [
  {
    name: "bare hono (read body, 200)",
    kind: "bare",
    secret: "",
    path: "/webhooks/bare",
    async start() {
      const app = new Hono();
      app.post("/webhooks/bare", async (c) => {
        await c.req.arrayBuffer();
        return c.body(null, 200);
      });
      return { app, stop: async () => undefined };
    },
  },
  {
    name: "whatsapp durable (tau)",
    kind: "whatsapp",
    secret: WA_SECRET,
    path: "/webhooks/whatsapp",
    async start(writer) {
      const c = createWhatsAppConnector({ ...deps(writer, { "whatsapp-app-secret": WA_SECRET }), mode: "webhook" });
      await c.start();
      return { app: served(c), stop: () => c.stop() };
    },
  },
  {
    name: "telegram durable (tau)",
    kind: "telegram",
    secret: TG_SECRET,
    path: "/webhooks/telegram",
    async start(writer) {
      const c = createTelegramConnector({
        ...deps(writer, { "telegram-webhook-secret": TG_SECRET }),
        mode: "webhook",
        apiRoot: "http://127.0.0.1:9",
        pollTimeoutS: 0,
      });
      await c.start();
      return { app: served(c), stop: () => c.stop() };
    },
  },
  {
    name: "telegram durable (grammY webhookCallback)",
    kind: "telegram",
    secret: TG_SECRET,
    path: "/webhooks/telegram",
    async start(writer) {
      const botInfo = { id: 6112, is_bot: true, first_name: "tau", username: "tau_ops_bot" } as UserFromGetMe;
      const bot = new Bot<Context>(TG_TOKEN, { botInfo });
      // The same work as tau's path: normalize and append durably before answering.
      bot.use(async (ctx) => {
        const r = normalizeTelegramUpdate(ctx.update, { identity: IDENTITY, receivedAtMs: Date.now() });
        if (r.ok && r.envelopes.length > 0) await writer.append("telegram", r.envelopes);
      });
      const handler = webhookCallback(bot, "hono", { secretToken: TG_SECRET });
      const app = createServer({
        routes: [{ method: "POST", path: "/webhooks/telegram", handler }],
        health: () => ({ state: "healthy" }),
        ready: () => [],
        metrics: createMetrics(),
        clock: Date.now,
        maxBodyBytes: 1 << 20,
      });
      return { app, stop: async () => undefined };
    },
  },
];

const SHM = "/dev/shm";
const hasShm = fs.existsSync(SHM);
if (hasShm) {
  for (const base of [TARGETS[2]!, TARGETS[3]!]) TARGETS.push({ ...base, name: `${base.name} [tmpfs]`, storage: "tmpfs" });
}

interface Row {
  target: string;
  c: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  fsyncs: number;
  events: number;
  /** Server-process CPU time per request (user + system), µs: robust to disk latency, shows handler cost. */
  cpu_us: number;
}

/** One run: a fresh ingress dir and server for `t`, load from the other process at concurrency `c`. */
async function runOnce(t: Target, c: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(t.storage === "tmpfs" ? SHM : os.tmpdir(), "tau-bench-webhook-"));
  const writer = createIngressWriter({ ingressDir: path.join(dir, "ingress"), maxLineBytes: 1 << 20, trustEnvelopes: true });
  const { app, stop } = await t.start(writer);
  const server: RunningServer = await startServer(app, "127.0.0.1:0");
  try {
    const cpu0 = process.cpuUsage();
    const r = await load(`${server.url}${t.path}`, t.kind, c, t.secret);
    const cpu = process.cpuUsage(cpu0);
    const st = writer.stats();
    const cpu_us = Math.round((cpu.user + cpu.system) / Math.max(1, r.total));
    return {
      target: t.name,
      c,
      rps: Math.round(r.rps),
      p50_ms: +r.p50_ms.toFixed(2),
      p99_ms: +r.p99_ms.toFixed(2),
      errors: r.errors,
      fsyncs: st.fsyncs,
      events: st.events,
      cpu_us,
    };
  } finally {
    await server.close(500);
    await stop();
    await writer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Interleaved and repeated (alternating forward and reverse order) so a noisy neighbour or a slow disk moment does
// not land on one target only; each target reports its better run.
const rows: Row[] = [];
for (const c of CONCURRENCY) {
  const best = new Map<string, Row>();
  for (let round = 0; round < ROUNDS; round++) {
    // BENCH_WEBHOOK_ONLY=<name substring>: run only matching targets (for profiling one path with --cpu-prof).
    const only = process.env.BENCH_WEBHOOK_ONLY;
    const targets = only ? TARGETS.filter((t) => t.name.includes(only)) : TARGETS;
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const r = await runOnce(t, c);
      const prev = best.get(t.name);
      if (!prev || r.rps > prev.rps) best.set(t.name, { ...r, cpu_us: Math.min(r.cpu_us, prev?.cpu_us ?? Infinity) });
      else prev.cpu_us = Math.min(prev.cpu_us, r.cpu_us);
    }
  }
  for (const t of TARGETS) if (best.has(t.name)) rows.push(best.get(t.name)!);
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log(
  `webhook intake — ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, node ${process.version}, ${hasTaskset ? "server on CPU 0, load on CPU 1" : "no taskset: unpinned"}; ${DURATION_MS} ms per run after ${WARMUP_MS} ms warm-up, best of ${ROUNDS} interleaved runs`,
);
console.log(
  `${pad("target", 52)}${pad("c", 5)}${pad("req/s", 9)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("errors", 8)}${pad("events", 9)}${pad("fsyncs", 8)}cpu µs/req`,
);
for (const r of rows)
  console.log(
    `${pad(r.target, 52)}${pad(r.c, 5)}${pad(r.rps, 9)}${pad(r.p50_ms, 9)}${pad(r.p99_ms, 9)}${pad(r.errors, 8)}${pad(r.events, 9)}${pad(r.fsyncs, 8)}${r.cpu_us}`,
  );

const rps = (name: string, c: number) => rows.find((r) => r.target === name && r.c === c)?.rps ?? 0;
const cpu = (name: string, c: number) => rows.find((r) => r.target === name && r.c === c)?.cpu_us ?? 0;
const ratios: Record<string, number> = {};
for (const c of CONCURRENCY) {
  ratios[`durable_vs_bare_c${c}`] = +(rps(TARGETS[1]!.name, c) / rps(TARGETS[0]!.name, c)).toFixed(3);
  ratios[`telegram_vs_grammy_c${c}`] = +(rps(TARGETS[2]!.name, c) / rps(TARGETS[3]!.name, c)).toFixed(3);
  if (hasShm) ratios[`telegram_vs_grammy_tmpfs_c${c}`] = +(rps(TARGETS[4]!.name, c) / rps(TARGETS[5]!.name, c)).toFixed(3);
  // grammY CPU per request ÷ tau CPU per request: how many requests tau serves per grammY one on the same CPU.
  ratios[`telegram_vs_grammy_cpu_c${c}`] = +(cpu(TARGETS[3]!.name, c) / cpu(TARGETS[2]!.name, c)).toFixed(3);
}
if (process.env.BENCH_WEBHOOK_ONLY) process.exit(0); // ratios need every target
for (const c of CONCURRENCY) {
  const tmpfs = hasShm ? `; on tmpfs ${ratios[`telegram_vs_grammy_tmpfs_c${c}`]!.toFixed(2)}×` : "";
  console.log(
    `c=${c}: durable WhatsApp / bare Hono = ${(ratios[`durable_vs_bare_c${c}`]! * 100).toFixed(1)}% (target ≥ 45%); tau Telegram / grammY = ${ratios[`telegram_vs_grammy_c${c}`]!.toFixed(2)}× req/s on disk${tmpfs}, ${ratios[`telegram_vs_grammy_cpu_c${c}`]!.toFixed(2)}× by server CPU per request (target ≥ 1.3×)`,
  );
}
console.log(JSON.stringify({ bench: "webhook", rows, ratios }));
