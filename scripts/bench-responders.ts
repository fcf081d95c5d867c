/**
 * @module Responder benchmark (issue: asynchronous responders): a real `tau run` child (Telegram webhook connector,
 * Hono server, runner and responder worker in provider mode, one process, pinned to CPU 0) with an `llm` responder
 * (`provider: openai`, the real `openai` SDK) as the default route's responder; in this process (CPU 1) the load
 * generator, the local OpenAI-compatible server (test/helpers/openai-server.ts) and the local Telegram Bot API
 * server that receives tau's `sendChatAction` and `sendMessage` calls from grammY. Every time is taken here, on
 * one clock (performance.timeOrigin + performance.now(), sub-millisecond).
 *
 * 1. Latency, open loop: Telegram webhook POSTs at `RATE`/s for `SECONDS` s, each from a new private chat; the
 *    model answers after `LAT_MODEL_MS`.
 *    (a) webhook → model request: the POST being sent − the chat completion request (matched by its user text)
 *        arriving, complete, at the OpenAI server (so it includes two loopback hops and both HTTP parsers).
 *    (b) model answer → sendMessage: the OpenAI server's `res.end()` after the last SSE byte (`data: [DONE]`) of
 *        that chat's answer − tau's `sendMessage` for that chat arriving, complete, at the Telegram server.
 * 2. Concurrency, a model that takes `SLOW_MODEL_MS` (2 s), `CHATS` (200) distinct chats, responder_concurrency
 *    `CONCURRENCY`:
 *    (c) backlog: `ROUNDS` messages per chat (1000 in all) posted at once. `concurrent_replies_per_s` = replies
 *        delivered in the window from the first reply of round 1 to the first reply of the last round (ROUNDS − 1
 *        whole rounds), ideal CHATS ÷ 2 s = 100/s; `backlog_overall_replies_per_s` = all replies ÷ (last sendMessage −
 *        first POST), which also pays for the intake of the burst and the last round's tail.
 *    (c') closed loop: each chat sends its next message when its previous reply reaches the Telegram server; replies/s
 *        over a window after the first round (ideal CHATS ÷ (2 s + tau's round trip per turn)).
 * Also: tau's CPU per conversation (from /proc), replies lost and what tau's outbox holds undelivered.
 * Loopback only; every phase is bounded and the child is killed on the way out. Prints one JSON line last.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/index.ts";
import { freePort } from "../test/helpers/free-port.ts";
import { lastUserText, startOpenAIServer } from "../test/helpers/openai-server.ts";
import { startTelegramBotApiServer, type TelegramRecordedRequest } from "../test/helpers/telegram-bot-api-server.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const num = (name: string, d: number) => Number(process.env[name] ?? d);
const RATE = num("BENCH_RESPONDERS_RATE", 50);
const SECONDS = num("BENCH_RESPONDERS_SECONDS", 10);
const LAT_MODEL_MS = num("BENCH_RESPONDERS_LAT_MODEL_MS", 500);
const SLOW_MODEL_MS = num("BENCH_RESPONDERS_SLOW_MODEL_MS", 2000);
const CHATS = num("BENCH_RESPONDERS_CHATS", 200);
const ROUNDS = num("BENCH_RESPONDERS_ROUNDS", 5);
const LOOP_SECONDS = num("BENCH_RESPONDERS_LOOP_SECONDS", 10);
const CONCURRENCY = num("BENCH_RESPONDERS_CONCURRENCY", 256);
const WARMUP = 20;
const TOKEN = "6112:BENCH-token_abcdefghijklmnopqrstuvwx";
const SECRET = "bench-telegram-secret";
const KEY = "sk-bench-responders";
const now = () => performance.timeOrigin + performance.now();
const LOAD_BEFORE = os.loadavg()[0]!;

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0 && os.cpus().length >= 2;
if (hasTaskset) spawnSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });

// When a response's last byte was handed to the socket, keyed by its request's headers object (the fakes record that
// very object): the OpenAI fake writes every SSE frame and ends the response in one go after its delay, so this is
// the moment the whole answer left for tau. This process only serves the two fakes.
const endedAt = new WeakMap<http.IncomingHttpHeaders, number>();
/** Runs after every response either server ends (the closed loop reacts to replies through it, without polling). */
let afterResponse: (() => void) | null = null;
const end = http.ServerResponse.prototype.end;
http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...args: unknown[]) {
  const r = (end as (...a: unknown[]) => unknown).apply(this, args);
  if (this.req) endedAt.set(this.req.headers, now());
  afterResponse?.();
  return r;
} as typeof end;

const tg = await startTelegramBotApiServer({ token: TOKEN, now });
const ai = await startOpenAIServer({ apiKey: KEY });
/** User text → when its chat completion request arrived (the default answer is computed as the body is complete). */
const modelAt = new Map<string, number>();
ai.setDefault((body) => {
  const text = lastUserText(body);
  if (!modelAt.has(text)) modelAt.set(text, now());
  return { text: `answer to ${text}`, delayMs: text.startsWith("lat ") ? LAT_MODEL_MS : SLOW_MODEL_MS };
});

// BENCH_RESPONDERS_TMPFS=1: the tau home (state, ingress) on /dev/shm, where fsync costs nothing: shows what the
// durable commits on tau's main thread cost (a diagnosis, not how tau ships).
const TMPFS = process.env.BENCH_RESPONDERS_TMPFS === "1" && fs.existsSync("/dev/shm");
const home = fs.mkdtempSync(path.join(TMPFS ? "/dev/shm" : os.tmpdir(), "tau-bench-responders-"));
fs.mkdirSync(path.join(home, "policies"));
fs.writeFileSync(
  path.join(home, "policies", "channel-policy.yaml"),
  "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: true }\n",
);
fs.writeFileSync(
  path.join(home, "tau.yaml"),
  `schema_version: 1
log: { level: silent }
identity:
  telegram: { bot_id: "6112", username: "tau_ops_bot" }
runner: { coalesce_window_ms: 0 }
# Telegram's per-bot pace (30 messages/s by default) is below the 50 replies/s the latency phase asks for: raised, as
# the responder rate limits are, so the bench measures tau's path and not the pacer's queue.
outbound: { pacing: { telegram: { per_bot: { count: 1000, window_ms: 1000 } } } }
responders:
  assistant:
    kind: llm
    provider: openai
    base_url: ${ai.url}
    model: gpt-test
    sdk_max_retries: 0
    timeout_ms: 30000
    rate_limit: { per_actor_per_minute: 1000, per_responder_per_minute: 1000000 }
default_responder: assistant
responder_concurrency: ${CONCURRENCY}
`,
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
  TAU_OPENAI_API_KEY: KEY,
};

let child: ChildProcess | null = null;
function tauRun(): ChildProcess {
  // BENCH_RESPONDERS_PROFILE=<dir>: a V8 CPU profile of `tau run` (open it in Chrome DevTools).
  const prof = process.env.BENCH_RESPONDERS_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_RESPONDERS_PROFILE}`] : [];
  const node = [
    process.execPath,
    "--max-semi-space-size=4",
    ...prof,
    // BENCH_RESPONDERS_NODE_FLAGS="--trace-gc ...": diagnosis flags for `tau run` (its stdout goes to BENCH_RESPONDERS_STDOUT).
    ...(process.env.BENCH_RESPONDERS_NODE_FLAGS ?? "").split(" ").filter(Boolean),
    path.join(root, "bin", "tau.js"),
    "run",
    "--state-dir",
    path.join(home, "state"),
    "--config",
    path.join(home, "tau.yaml"),
  ];
  // BENCH_RESPONDERS_STRACE=<file>: tau's fsync/fdatasync calls with their times (strace -ttt), to count the durable
  // commits per conversation in the latency phase (its window is in the result: latency_window_epoch_ms).
  const trace = process.env.BENCH_RESPONDERS_STRACE
    ? ["strace", "-f", "-ttt", "-T", "-e", "trace=fsync,fdatasync", "-o", process.env.BENCH_RESPONDERS_STRACE]
    : [];
  const [cmd, ...rest] = hasTaskset ? ["taskset", "-c", "0", ...trace, ...node] : [...trace, ...node];
  const out = process.env.BENCH_RESPONDERS_STDOUT ? fs.openSync(process.env.BENCH_RESPONDERS_STDOUT, "w") : "ignore";
  return spawn(cmd!, rest, { env, stdio: ["ignore", out, "inherit"], cwd: home });
}
/** CPU time (user + system, ms) of a process so far, from /proc (Linux; null elsewhere). */
function cpuMsOf(pid: number | undefined): number | null {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}
const cpuDelta = (a: number | null, b: number | null, n: number) => (a === null || b === null ? null : +((b - a) / n).toFixed(2));
/**
 * The pid of `tau run` itself: under BENCH_RESPONDERS_STRACE the spawned process is strace, which runs tau as its
 * child (taskset execs, so it keeps the pid). Its CPU is measured and its SIGTERM sent to tau, not to strace (which
 * does not pass it on).
 */
function tauPid(c: ChildProcess): number | undefined {
  if (!process.env.BENCH_RESPONDERS_STRACE || c.pid === undefined) return c.pid;
  try {
    const kids = fs.readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, "utf8").trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : c.pid;
  } catch {
    return c.pid;
  }
}
const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

async function ready(c: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`tau run exited (${c.exitCode ?? c.signalCode}) before it was ready`);
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
let updateId = 900_000;
/** One private-chat text message from `chat`. */
function update(chat: number, text: string): Buffer {
  const id = updateId++;
  return Buffer.from(
    JSON.stringify({
      update_id: id,
      message: {
        message_id: id,
        from: { id: chat, is_bot: false, first_name: "Bench" },
        chat: { id: chat, first_name: "Bench", type: "private" },
        date: 1763712000,
        text,
      },
    }),
  );
}
/**
 * POST one update; resolves with the acknowledgement latency in ms (from the first attempt). A connection error is
 * retried (at most twice), as Telegram redelivers: a keep-alive socket the server closed as it was reused.
 */
async function post(body: Buffer): Promise<number> {
  const t0 = now();
  for (let attempt = 0; ; attempt++) {
    try {
      await postOnce(body);
      return now() - t0;
    } catch (err) {
      if (attempt >= 2 || (err as { code?: string }).code === undefined) throw err;
    }
  }
}
function postOnce(body: Buffer): Promise<number> {
  const t0 = now();
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
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(now() - t0) : reject(new Error(`webhook status ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const isSend = (r: TelegramRecordedRequest) => r.method === "sendMessage" && r.status === 200;
const chatOf = (r: TelegramRecordedRequest) => Number(r.params.chat_id);
/** sendMessage calls for chats in [lo, hi). */
const sendsIn = (lo: number, hi: number) => tg.requests.filter((r) => isSend(r) && chatOf(r) >= lo && chatOf(r) < hi);
/** What the servers and tau's state say, for a phase that did not finish (read-only; tau may still be running). */
function diagnose(): string {
  const count = (xs: string[]) => Object.fromEntries([...new Set(xs)].map((k) => [k, xs.filter((x) => x === k).length]));
  const parts = [
    `model requests by status ${JSON.stringify(count(ai.chatRequests().map((r) => String(r.status))))}`,
    `telegram requests ${JSON.stringify(count(tg.requests.map((r) => `${r.method}:${r.status}`)))}`,
  ];
  try {
    const store = openStore(path.join(home, "state"), { readonly: true });
    try {
      const r = store.responders;
      parts.push(`open jobs ${JSON.stringify(r.openCounts())}`);
      parts.push(`finished jobs ${JSON.stringify(r.finishedSince(0, 0).map((f) => [f.status, f.reason, f.jobs]))}`);
      const pending = store.outbox.pending(Number.MAX_SAFE_INTEGER, 100_000);
      parts.push(`outbox pending ${JSON.stringify(count(pending.map((o) => `${o.status}:${o.reason ?? ""}`)))}`);
      const stuck = store.outbox.deadLetters(100);
      parts.push(
        `outbox undelivered ${JSON.stringify(count(stuck.map((o) => `${o.status}:${o.reason ?? ""}`)))} e.g. ${stuck[0]?.first_receipt ?? "-"}`,
      );
    } finally {
      store.close();
    }
  } catch (err) {
    parts.push(`state not readable: ${(err as Error).message}`);
  }
  return parts.join("; ");
}
async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${diagnose()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
/** Wait until `count()` reaches `n`, or it has not moved for `quietMs` (a lost reply is counted, not waited for). */
async function waitForReplies(count: () => number, n: number, quietMs: number, what: string): Promise<void> {
  let last = -1;
  let since = Date.now();
  await waitFor(
    () => {
      const c = count();
      if (c !== last) [last, since] = [c, Date.now()];
      return c >= n || Date.now() - since > quietMs;
    },
    600_000,
    what,
  );
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN).toFixed(2);
};
const stats = (xs: number[]) => ({ p50: pct(xs, 50), p99: pct(xs, 99), max: pct(xs, 100), n: xs.length });
const aiRequestFor = (text: string) => ai.chatRequests().find((r) => r.body && lastUserText(r.body) === text);

try {
  child = tauRun();
  await ready(child);

  // Warm-up: the first job loads the openai SDK, the first send grammY.
  {
    const lo = 1_000_000;
    await Promise.all(Array.from({ length: WARMUP }, (_, i) => post(update(lo + i, `lat warm ${i}`))));
    await waitFor(() => sendsIn(lo, lo + WARMUP).length >= WARMUP, 30_000, "warm-up replies");
  }

  // 1. Latency: one message per new chat at RATE/s, open loop.
  const LAT = 2_000_000;
  const total = Math.round(RATE * SECONDS);
  const postAt = new Map<number, number>();
  const acks: number[] = [];
  const inflight: Promise<void>[] = [];
  const latCpu0 = cpuMsOf(tauPid(child));
  const benchCpu0 = process.cpuUsage();
  const start = now();
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / RATE;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = update(LAT + k, `lat ${k}`);
    postAt.set(k, now());
    inflight.push(post(body).then((ms) => void acks.push(ms)));
  }
  await Promise.all(inflight);
  const achieved = (total * 1000) / (now() - start);
  await waitForReplies(() => sendsIn(LAT, LAT + total).length, total, 10_000, "latency-phase replies");
  const latSpan = now() - start;
  const latWindow = [Math.round(start), Math.round(start + latSpan)];
  const latCpu = cpuDelta(latCpu0, cpuMsOf(tauPid(child)), total);
  const benchCpu = process.cpuUsage(benchCpu0);
  const toModel: number[] = [];
  const toSend: number[] = [];
  const toTyping: number[] = [];
  const e2e: number[] = [];
  const sends = new Map(sendsIn(LAT, LAT + total).map((r) => [chatOf(r) - LAT, r.at]));
  const typing = new Map<number, number>();
  for (const r of tg.requests)
    if (r.method === "sendChatAction" && chatOf(r) >= LAT && chatOf(r) < LAT + total && !typing.has(chatOf(r) - LAT))
      typing.set(chatOf(r) - LAT, r.at);
  let retried = 0;
  for (let k = 0; k < total; k++) {
    const text = `lat ${k}`;
    const req = aiRequestFor(text);
    if (!req) throw new Error(`no model request for ${text}`);
    if ((req.retryCount ?? 0) > 0) retried += 1;
    const sent = postAt.get(k)!;
    toModel.push(modelAt.get(text)! - sent);
    const answered = endedAt.get(req.headers);
    if (answered === undefined) throw new Error(`no answer end recorded for ${text}`);
    const sentAt = sends.get(k);
    if (sentAt === undefined) continue; // lost: counted below
    toSend.push(sentAt - answered);
    e2e.push(sentAt - sent);
    const t = typing.get(k);
    if (t !== undefined) toTyping.push(t - sent);
  }

  // 2(c). Backlog: ROUNDS messages in each of CHATS chats, posted at once; the model takes SLOW_MODEL_MS.
  const BURST = 3_000_000;
  const burstTotal = CHATS * ROUNDS;
  const burstCpu0 = cpuMsOf(tauPid(child));
  const burstStart = now();
  {
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let m = next++; m < burstTotal; m = next++)
          await post(update(BURST + (m % CHATS), `con ${Math.floor(m / CHATS)}:${m % CHATS}`));
      }),
    );
  }
  const burstPosted = now() - burstStart;
  await waitForReplies(() => sendsIn(BURST, BURST + CHATS).length, burstTotal, SLOW_MODEL_MS + 10_000, "backlog replies");
  const burstCpu = cpuDelta(burstCpu0, cpuMsOf(tauPid(child)), burstTotal);
  const burstSends = sendsIn(BURST, BURST + CHATS).map((r) => r.at);
  const burstLast = Math.max(...burstSends);
  const burstRate = (burstSends.length * 1000) / (burstLast - burstStart);
  // Sustained: between the first reply and the first reply of the last round (whole rounds of CHATS in between).
  const sortedBurst = [...burstSends].sort((a, b) => a - b);
  const steadyN = Math.min(burstTotal - CHATS, sortedBurst.length - 1);
  const burstSteady = (steadyN * 1000) / (sortedBurst[steadyN]! - sortedBurst[0]!);

  // 2(c'). Closed loop: each chat sends its next message when its previous reply arrives.
  const LOOP = 4_000_000;
  const loopCpu0 = cpuMsOf(tauPid(child));
  const loopStart = now();
  const stopAt = loopStart + SLOW_MODEL_MS + LOOP_SECONDS * 1000;
  const windowFrom = loopStart + SLOW_MODEL_MS + 500;
  let seen = tg.requests.length;
  const turn = new Array<number>(CHATS).fill(0);
  const loopReplies: number[] = [];
  const loopTurn: number[] = [];
  const lastPost = new Array<number>(CHATS).fill(0);
  let outstanding = 0;
  const postErrors: string[] = [];
  const send = (c: number) => {
    outstanding += 1;
    lastPost[c] = now();
    void post(update(LOOP + c, `con loop ${turn[c]}:${c}`)).catch((err: unknown) => void postErrors.push(String(err)));
  };
  // React to each answered sendMessage of the loop's chats as the Telegram server answers it (no polling delay). The
  // loop ends once the time is up and every chat has had its last reply, or GRACE after that (a reply that never
  // comes is counted as lost, not waited for).
  afterResponse = () => {
    while (seen < tg.requests.length) {
      const r = tg.requests[seen]!;
      if (r.status === undefined) break;
      seen += 1;
      if (!isSend(r) || chatOf(r) < LOOP || chatOf(r) >= LOOP + CHATS) continue;
      const c = chatOf(r) - LOOP;
      outstanding -= 1;
      loopReplies.push(r.at);
      loopTurn.push(r.at - lastPost[c]!);
      turn[c] = turn[c]! + 1;
      if (now() < stopAt) send(c);
    }
  };
  for (let c = 0; c < CHATS; c++) send(c);
  const GRACE = SLOW_MODEL_MS * 2 + 5000;
  await waitFor(
    () => (now() >= stopAt && outstanding === 0) || now() >= stopAt + GRACE,
    LOOP_SECONDS * 1000 + GRACE + 60_000,
    "the closed loop",
  );
  afterResponse = null;
  const loopLost = outstanding;
  if (postErrors.length) throw new Error(`closed loop: webhook POSTs failed: ${postErrors.slice(0, 3).join(" / ")}`);
  const loopCpu = cpuDelta(loopCpu0, cpuMsOf(tauPid(child)), Math.max(1, loopReplies.length));
  const windowMs = stopAt - windowFrom;
  const loopRate = (loopReplies.filter((t) => t >= windowFrom && t < stopAt).length * 1000) / windowMs;

  process.kill(tauPid(child) ?? child.pid!, "SIGTERM");
  const code = await exited(child);
  child = null;
  // What tau itself says it could not deliver (e.g. `unknown`: a send that failed after its body was written).
  const store = openStore(path.join(home, "state"), { readonly: true });
  const undelivered = store.outbox.deadLetters(10_000);
  const failedJobs = store.responders.finishedSince(0, 0).filter((f) => f.status === "failed");
  const undeliveredDetail = undelivered[0]?.first_receipt ?? null;
  store.close();
  const tally = (xs: string[]) => Object.fromEntries([...new Set(xs)].map((k) => [k, xs.filter((x) => x === k).length]));

  const a = stats(toModel);
  const b = stats(toSend);
  const result = {
    bench: "responders",
    rate_target: RATE,
    rate_achieved: +achieved.toFixed(1),
    conversations: total,
    latency_model_ms: LAT_MODEL_MS,
    latency_window_epoch_ms: latWindow,
    webhook_to_model_p50_ms: a.p50,
    webhook_to_model_p99_ms: a.p99,
    webhook_to_model_max_ms: a.max,
    model_to_send_p50_ms: b.p50,
    model_to_send_p99_ms: b.p99,
    model_to_send_max_ms: b.max,
    webhook_to_typing_p50_ms: pct(toTyping, 50),
    webhook_to_typing_p99_ms: pct(toTyping, 99),
    webhook_ack_p50_ms: pct(acks, 50),
    webhook_ack_p99_ms: pct(acks, 99),
    webhook_to_send_p50_ms: pct(e2e, 50),
    webhook_to_send_p99_ms: pct(e2e, 99),
    model_retries: retried,
    slow_model_ms: SLOW_MODEL_MS,
    responder_concurrency: CONCURRENCY,
    chats: CHATS,
    backlog_messages: burstTotal,
    backlog_posted_ms: Math.round(burstPosted),
    concurrent_replies_per_s: +burstSteady.toFixed(1),
    backlog_overall_replies_per_s: +burstRate.toFixed(1),
    closed_loop_replies_per_s: +loopRate.toFixed(1),
    closed_loop_window_ms: Math.round(windowMs),
    closed_loop_turn_p50_ms: pct(loopTurn, 50),
    closed_loop_turn_p99_ms: pct(loopTurn, 99),
    tau_cpu_ms_per_conversation: latCpu,
    tau_cpu_busy_share_latency_phase: latCpu === null ? null : +((latCpu * total) / latSpan).toFixed(2),
    bench_cpu_busy_share_latency_phase: +((benchCpu.user + benchCpu.system) / 1000 / latSpan).toFixed(2),
    tau_cpu_ms_per_reply_backlog: burstCpu,
    tau_cpu_ms_per_reply_closed_loop: loopCpu,
    latency_replies_lost: total - sends.size,
    backlog_replies_lost: burstTotal - burstSends.length,
    closed_loop_replies_lost: loopLost,
    outbox_undelivered: tally(undelivered.map((o) => `${o.status}:${o.reason ?? ""}`)),
    outbox_undelivered_example: undeliveredDetail,
    jobs_failed: Object.fromEntries(failedJobs.map((f) => [f.reason ?? "", f.jobs])),
    ideal_replies_per_s: +((CHATS * 1000) / SLOW_MODEL_MS).toFixed(1),
    run_exit_code: code,
    pinned: hasTaskset,
    clock: "performance.now() in the bench process (sub-ms); tau's times are observed at the two local servers",
    cpu: "tau's CPU from /proc/<pid>/stat (10 ms ticks), per conversation or reply; busy share = CPU time / wall time of the phase",
    // The 1-minute load average when the bench started: on a 2-CPU machine, above ~0.5 other work shared the CPUs.
    load_before: +LOAD_BEFORE.toFixed(2),
    state_on_tmpfs: TMPFS,
  };
  console.log(
    `responders (tau run, llm responder on the openai SDK, provider mode${hasTaskset ? "; tau on CPU 0, load + servers on CPU 1" : ""}${TMPFS ? "; state on tmpfs" : ""}; load average before ${result.load_before})`,
  );
  console.log(
    `  ${total} conversations at ${result.rate_achieved}/s, model ${LAT_MODEL_MS} ms:` +
      ` (a) webhook → model request p50 ${a.p50} ms, p99 ${a.p99} ms, max ${a.max} ms   (target p99 ≤ 15)`,
  );
  console.log(`      (b) model answer → sendMessage p50 ${b.p50} ms, p99 ${b.p99} ms, max ${b.max} ms   (target p99 ≤ 10)`);
  console.log(
    `      webhook → typing p50 ${result.webhook_to_typing_p50_ms} ms, p99 ${result.webhook_to_typing_p99_ms} ms; ack p50 ${result.webhook_ack_p50_ms} ms, p99 ${result.webhook_ack_p99_ms} ms; webhook → reply p50 ${result.webhook_to_send_p50_ms} ms, p99 ${result.webhook_to_send_p99_ms} ms`,
  );
  console.log(
    `  (c) ${CHATS} chats × ${ROUNDS} messages at once, model ${SLOW_MODEL_MS} ms, responder_concurrency ${CONCURRENCY}: ${result.concurrent_replies_per_s} replies/s over rounds 1–${ROUNDS - 1} (ideal ${result.ideal_replies_per_s}; first POST → last reply ${result.backlog_overall_replies_per_s}/s)   (target ≥ 90)`,
  );
  console.log(
    `  (c') ${CHATS} chats in a closed loop: ${result.closed_loop_replies_per_s} replies/s over ${result.closed_loop_window_ms} ms; turn p50 ${result.closed_loop_turn_p50_ms} ms, p99 ${result.closed_loop_turn_p99_ms} ms`,
  );
  console.log(
    `  tau CPU per conversation: ${latCpu} ms at ${RATE}/s (busy ${result.tau_cpu_busy_share_latency_phase} of its CPU; the bench process ${result.bench_cpu_busy_share_latency_phase}), ${burstCpu} ms per reply in (c), ${loopCpu} ms in (c')`,
  );
  const lost = result.latency_replies_lost + result.backlog_replies_lost + result.closed_loop_replies_lost;
  if (lost > 0 || undelivered.length > 0 || failedJobs.length > 0)
    console.log(
      `  NOT DELIVERED: ${lost} replies never reached the Telegram server; tau's outbox: ${JSON.stringify(result.outbox_undelivered)}; failed jobs: ${JSON.stringify(result.jobs_failed)}${undeliveredDetail ? `; e.g. ${undeliveredDetail}` : ""}`,
    );
  console.log(JSON.stringify(result));
} finally {
  if (child) {
    // Under strace, tau outlives a killed strace: kill tau too.
    const pid = tauPid(child);
    if (pid !== undefined && pid !== child.pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    child.kill("SIGKILL");
  }
  agent.destroy();
  await tg.close();
  await ai.close();
  fs.rmSync(home, { recursive: true, force: true });
}
