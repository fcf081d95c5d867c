/**
 * @module End-to-end benchmark (issue 4): a real `tau run` child (Telegram webhook connector + Hono server +
 * runner in provider mode, one process, pinned to CPU 0) and, in this process (CPU 1), the load generator and
 * the local Telegram Bot API server that receives tau's `sendMessage` calls from grammY.
 *
 * 1. Latency: an open-loop schedule of webhook POSTs at `RATE`/s for `SECONDS` s, each from a new private chat;
 *    latency = the provider request for that chat arriving at the local server − the webhook POST being sent
 *    (one clock: both ends live in this process). Reports p50/p99 and the webhook acknowledgement latency.
 * 2. Backlog: `tau connectors run` alone takes closed-loop webhooks at c=16 (durable fill rate); then
 *    `tau process --once` drains that backlog in provider mode (drain rate = replies / first→last provider
 *    request). Prints the ratio drain / fill.
 * Loopback only; every phase is bounded and the children are killed on the way out.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/helpers/free-port.ts";
import { startTelegramBotApiServer } from "../test/helpers/telegram-bot-api-server.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RATE = Number(process.env.BENCH_E2E_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_E2E_SECONDS ?? 10);
const WARMUP = 200;
const FILL_MS = 3000;
/** BENCH_E2E_BACKLOG=0: the latency phase only (`npm run bench -- cluster`: a copied state dir cannot copy a shared database or stream). */
const BACKLOG = process.env.BENCH_E2E_BACKLOG !== "0";
/** The store/ingress drivers, named in the output when not the embedded default (TAU_STORE_DRIVER, TAU_INGRESS_DRIVER pass to tau). */
const SETUP =
  process.env.TAU_STORE_DRIVER || process.env.TAU_INGRESS_DRIVER
    ? `, store ${process.env.TAU_STORE_DRIVER || "sqlite"}, ingress ${process.env.TAU_INGRESS_DRIVER || "files"}`
    : "";
const TOKEN = "6112:BENCH-token_abcdefghijklmnopqrstuvwx";
const SECRET = "bench-telegram-secret";
const now = () => performance.timeOrigin + performance.now();

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0 && os.cpus().length >= 2;
if (hasTaskset) spawnSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });

const tg = await startTelegramBotApiServer({ token: TOKEN, now });
const home = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-e2e-"));
fs.mkdirSync(path.join(home, "policies"));
fs.writeFileSync(
  path.join(home, "policies", "channel-policy.yaml"),
  "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: true }\n",
);
fs.writeFileSync(
  path.join(home, "tau.yaml"),
  'schema_version: 1\nlog: { level: silent }\nidentity:\n  telegram: { bot_id: "6112", username: "tau_ops_bot" }\nrunner: { coalesce_window_ms: 0 }\n',
);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  TAU_LOG_LEVEL: "silent",
  TAU_SERVER_BIND: `127.0.0.1:${port}`,
  TAU_CONNECTORS_TELEGRAM_MODE: "webhook",
  TAU_TELEGRAM_WEBHOOK_SECRET: SECRET,
  TAU_TELEGRAM_BOT_TOKEN: TOKEN,
  TAU_TELEGRAM_API_ROOT: tg.url,
  TAU_OUTBOUND_MODE: "provider",
  // 200 replies/s from one bot is over Telegram's 30 messages/s per bot, which outbound pacing keeps to (issue 12):
  // this bench measures tau's own latency, so pacing is off (the local server enforces no limit here).
  TAU_OUTBOUND_PACING_ENABLED: process.env.TAU_OUTBOUND_PACING_ENABLED ?? "false",
};
const children = new Set<ChildProcess>();

const outputs = new Map<ChildProcess, () => string>();
function tau(args: string[], extraEnv: Record<string, string> = {}, stateDir = path.join(home, "state")): ChildProcess {
  // BENCH_E2E_PROFILE=<dir>: a V8 CPU profile of the drain (open it in Chrome DevTools).
  const prof =
    process.env.BENCH_E2E_PROFILE && args[0] === (process.env.BENCH_E2E_PROFILE_CMD ?? "process")
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_E2E_PROFILE}`]
      : [];
  const node = [
    process.execPath,
    "--max-semi-space-size=4",
    ...prof,
    path.join(root, "bin", "tau.js"),
    ...args,
    "--state-dir",
    stateDir,
    "--config",
    path.join(home, "tau.yaml"),
  ];
  const [cmd, ...rest] = hasTaskset ? ["taskset", "-c", "0", ...node] : node;
  const c = spawn(cmd!, rest, { env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "inherit"], cwd: home });
  children.add(c);
  let out = "";
  c.stdout!.on("data", (d) => (out += d));
  outputs.set(c, () => out);
  c.once("exit", () => children.delete(c));
  return c;
}
const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

async function ready(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error("tau did not become ready");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function update(i: number): Buffer {
  const chat = 7_000_000 + i;
  return Buffer.from(
    JSON.stringify({
      update_id: 500_000 + i,
      message: {
        message_id: 10 + i,
        from: { id: chat, is_bot: false, first_name: "Bench" },
        chat: { id: chat, first_name: "Bench", type: "private" },
        date: 1763712000,
        text: `end to end ${i}`,
      },
    }),
  );
}
/**
 * POST one update; resolves with the acknowledgement latency in ms. A kept-alive socket the server closed as the request
 * went out (its keep-alive timeout, e.g. after the warm-up's wait) resets it: sent again once on a new socket, as HTTP
 * clients do for an idempotent request (a webhook redelivered is deduplicated by tau).
 */
function post(body: Buffer, t0 = now(), again = true): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/webhooks/telegram",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": String(body.length), "x-telegram-bot-api-secret-token": SECRET },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () =>
          res.statusCode === 200 ? resolve(now() - t0) : reject(new Error(`webhook status ${res.statusCode}: ${text.slice(0, 300)}`)),
        );
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (again && req.reusedSocket && err.code === "ECONNRESET") post(body, t0, false).then(resolve, reject);
      else reject(err);
    });
    req.end(body);
  });
}
const sendMessages = () => tg.requests.filter((r) => r.method === "sendMessage" && r.status === 200);
async function waitForReplies(n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sendMessages().length < n) {
    if (Date.now() > deadline) throw new Error(`only ${sendMessages().length} of ${n} replies arrived`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
/** CPU seconds a child has used (user + system, all its threads; Linux /proc), or NaN where unreadable. */
function cpuSeconds(c: ChildProcess): number {
  try {
    // With taskset the child is taskset's exec'd node: the same pid.
    const f = fs.readFileSync(`/proc/${c.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(2);
};

try {
  // 1. Latency at a fixed rate, open loop (a slow reply never slows the schedule).
  let svc = tau(["run"]);
  await ready();
  for (let i = 0; i < WARMUP; i++) await post(update(i));
  await waitForReplies(WARMUP, 30_000);
  tg.requests.length = 0;
  const total = RATE * SECONDS;
  const sentAt = new Map<number, number>();
  const acks: number[] = [];
  const inflight: Promise<void>[] = [];
  const cpu0 = cpuSeconds(svc);
  const start = now();
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / RATE;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const i = WARMUP + k;
    sentAt.set(7_000_000 + i, now());
    inflight.push(post(update(i)).then((ms) => void acks.push(ms)));
  }
  await Promise.all(inflight);
  await waitForReplies(total, 60_000);
  const e2e = sendMessages().map((r) => r.at - sentAt.get(Number(r.params.chat_id))!);
  // BENCH_E2E_DUMP=<file>: each event's send time (ms after the first) and latency, one per line, to see when the tail happens.
  if (process.env.BENCH_E2E_DUMP)
    fs.writeFileSync(
      process.env.BENCH_E2E_DUMP,
      sendMessages()
        .map((r) => {
          const t = sentAt.get(Number(r.params.chat_id))!;
          return `${(t - start).toFixed(1)} ${(r.at - t).toFixed(2)}`;
        })
        .join("\n") + "\n",
    );
  const achieved = (total * 1000) / (now() - start);
  // tau's own CPU per event over the phase (all its threads): what the latency sits on, on a shared machine.
  const cpuMsPerEvent = ((cpuSeconds(svc) - cpu0) * 1000) / total;
  svc.kill("SIGTERM");
  const code = await exited(svc);

  const latency = {
    rate_target: RATE,
    rate_achieved: +achieved.toFixed(1),
    events: total,
    e2e_p50_ms: pct(e2e, 50),
    e2e_p99_ms: pct(e2e, 99),
    e2e_max_ms: pct(e2e, 100),
    cpu_ms_per_event: +cpuMsPerEvent.toFixed(2),
    ack_p50_ms: pct(acks, 50),
    ack_p99_ms: pct(acks, 99),
    run_exit_code: code,
  };
  console.log(
    `end to end (webhook → provider request, tau run in provider mode${hasTaskset ? ", tau on CPU 0, load + provider on CPU 1" : ""}${SETUP})`,
  );
  console.log(
    `  ${total} events at ${latency.rate_achieved}/s: p50 ${latency.e2e_p50_ms} ms, p99 ${latency.e2e_p99_ms} ms, max ${latency.e2e_max_ms} ms   (targets: p50 < 10, p99 < 50)`,
  );
  console.log(
    `  webhook acknowledgement: p50 ${latency.ack_p50_ms} ms, p99 ${latency.ack_p99_ms} ms; tau CPU ${latency.cpu_ms_per_event} ms per event; tau run exited ${code} on SIGTERM`,
  );
  if (!BACKLOG) console.log(JSON.stringify({ ...latency, pinned: hasTaskset }));
  else {
    // 2. Backlog: fill with intake only, then drain with the runner alone.
    tg.requests.length = 0;
    svc = tau(["connectors", "run"]);
    await ready();
    let filled = 0;
    let next = 1_000_000;
    const fillStart = now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (now() - fillStart < FILL_MS) {
          await post(update(next++));
          filled += 1;
        }
      }),
    );
    const fillRate = (filled * 1000) / (now() - fillStart);
    svc.kill("SIGTERM");
    await exited(svc);
    // The same backlog twice: drained in provider mode (grammY → the local Bot API server) and, from a copy of
    // the state, in dry-run mode (the runner alone). Rates use the drain time `tau process --once` reports.
    fs.cpSync(path.join(home, "state"), path.join(home, "state-dry"), { recursive: true });
    const drain = async (extra: Record<string, string>, stateDir?: string) => {
      const c = tau(["process", "--once", "--json"], extra, stateDir);
      const code = await exited(c);
      if (code !== 0) throw new Error(`tau process --once exited ${code}`);
      return JSON.parse(outputs.get(c)!()) as { processed: number; delivered: number; elapsed_ms: number };
    };
    const provider = await drain({});
    const sends = sendMessages();
    const dry = await drain({ TAU_OUTBOUND_MODE: "dry-run" }, path.join(home, "state-dry"));
    const drainRate = (provider.processed * 1000) / provider.elapsed_ms;
    const dryRate = (dry.processed * 1000) / dry.elapsed_ms;

    const result = {
      ...latency,
      fill_events_per_s: Math.round(fillRate),
      backlog: filled,
      drained_replies: sends.length,
      drain_provider_events_per_s: Math.round(drainRate),
      drain_dry_run_events_per_s: Math.round(dryRate),
      provider_drain_to_fill_ratio: +(drainRate / fillRate).toFixed(2),
      dry_run_drain_to_fill_ratio: +(dryRate / fillRate).toFixed(2),
      pinned: hasTaskset,
    };
    console.log(`  backlog of ${filled}: filled at ${result.fill_events_per_s}/s (c=16, durable webhooks, intake only)`);
    console.log(
      `    drained in provider mode at ${result.drain_provider_events_per_s}/s → ratio ${result.provider_drain_to_fill_ratio}; in dry-run mode at ${result.drain_dry_run_events_per_s}/s → ratio ${result.dry_run_drain_to_fill_ratio}   (target ≥ 3)`,
    );
    console.log(JSON.stringify(result));
  }
} catch (err) {
  // What tau said is the first thing to read when a run fails (a 500, a child that did not get ready).
  for (const c of children)
    process.stderr.write(`--- tau ${c.spawnargs.slice(-5, -4).join(" ")} output (tail) ---\n${outputs.get(c)?.().slice(-4000) ?? ""}\n`);
  throw err;
} finally {
  for (const c of children) c.kill("SIGKILL");
  agent.destroy();
  await tg.close();
  fs.rmSync(home, { recursive: true, force: true });
}
