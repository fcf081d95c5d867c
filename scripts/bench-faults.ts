/**
 * @module Bench: delivery under provider faults (issue 14). N replies in provider mode go through the real delivery
 * path (outbox → `createProviderDelivery` → the real sender SDK: grammY, @discordjs/rest, axios) to a local provider
 * server that meets each send with a seeded fault mix: 20% rate limited (retry after 1 s), 10% a 502 with a proxy's
 * HTML page, 4.5% the connection dropped after the request was read and processed (the message exists; the answer
 * never comes). The HTTP is real; the clock is virtual (a scheduled retry is reached by moving the clock to its due
 * time, so a run takes seconds). Each fault is decided by hash(seed, reply text, attempt number of that text), so a
 * run does not depend on the order concurrent requests arrive in.
 * Counts: replies that reached the provider twice (must be 0), replies stranded although every failure they met was
 * safe to retry (must be 0), replies left `unknown` (ambiguous; each with its evidence), calls.
 * Run: `tsx scripts/bench-faults.ts [telegram] [discord] [whatsapp] [--replies 300] [--seed 14]` (the last line is JSON).
 */
import path from "node:path";
import { createRequestBuilders } from "../src/app/index.ts";
import type { ProviderSender } from "../src/contracts/delivery.ts";
import type { ReplyTarget } from "../src/contracts/outbound.ts";
import { listDeadLetters } from "../src/outbound/dead-letters.ts";
import { createDelivery } from "../src/outbound/deliver.ts";
import { queueReplies } from "../src/outbound/outbox.ts";
import { createProviderDelivery } from "../src/outbound/provider.ts";
import { createTelegramSender } from "../connectors/telegram/sender.ts";
import { createDiscordSender } from "../connectors/discord/sender.ts";
import { createWhatsAppSender } from "../connectors/whatsapp/sender.ts";
import { htmlErrorPage, type FaultKind, type PlannedFault } from "../test/helpers/http-faults.ts";
import { startTelegramBotApiServer } from "../test/helpers/telegram-bot-api-server.ts";
import { startDiscordServer } from "../test/helpers/discord-server.ts";
import { startWhatsAppGraphServer, graphError } from "../test/helpers/whatsapp-graph-server.ts";
import { makeTauHome } from "../test/helpers/tau-home.ts";

type Provider = "telegram" | "discord" | "whatsapp";

/** The issue's fault mix, as cumulative thresholds over one uniform draw per request. */
const MIX = { rate_limited: 0.2, html_502: 0.1, dropped: 0.045 } as const;
const T0 = Date.parse("2026-12-06T00:00:00Z");
const CONVERSATIONS = 100;

/** 32-bit FNV-1a, then one mulberry32 step: a uniform draw in [0, 1) for a key. */
function draw(seed: number, key: string): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  let t = (h + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

type Kind = "rate_limited" | "html_502" | "dropped";
function kindFor(u: number): Kind | null {
  if (u < MIX.rate_limited) return "rate_limited";
  if (u < MIX.rate_limited + MIX.html_502) return "html_502";
  if (u < MIX.rate_limited + MIX.html_502 + MIX.dropped) return "dropped";
  return null;
}

/** One provider under test: its server, a sender, a reply target per conversation, and what the server holds. */
interface Rig {
  sender: ProviderSender;
  target(conversation: number): ReplyTarget;
  /** The reply text of a send request (null: not a send). */
  textOf(rec: { method: string; path: string; rawBody: string }): string | null;
  /** The provider's answer for a rate limit, in its own wire format. */
  rateLimit: PlannedFault;
  /** Texts of the messages the provider holds (one entry per message). */
  delivered(): string[];
  /** Every request the server recorded (method, path, raw body, fault met). */
  requests(): { method: string; path: string; rawBody: string; fault?: FaultKind }[];
  setPlan(plan: (rec: { method: string; path: string; rawBody: string }) => PlannedFault | undefined): void;
  close(): Promise<void>;
}

const jsonText = (raw: string, pick: (b: Record<string, unknown>) => unknown): string | null => {
  try {
    const v = pick(JSON.parse(raw) as Record<string, unknown>);
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
};

async function telegramRig(): Promise<Rig> {
  const s = await startTelegramBotApiServer();
  return {
    sender: createTelegramSender({ apiRoot: s.url, token: () => s.token, timeoutMs: 10_000 }),
    target: (c) => ({
      transport: "telegram",
      account_id: "6112",
      conversation_id: String(-1001000000 - c),
      thread_id: null,
      reply_to: null,
    }),
    textOf: (r) => (/\/sendMessage$/i.test(r.path) ? jsonText(r.rawBody, (b) => b["text"]) : null),
    rateLimit: {
      kind: "fail",
      status: 429,
      body: { ok: false, error_code: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } },
    },
    delivered: () => s.sentMessages.filter((m) => m.method === "sendMessage").map((m) => m.text ?? ""),
    requests: () => s.requests.map((r) => ({ method: r.httpMethod, path: r.path, rawBody: r.rawBody, fault: r.fault })),
    setPlan: (plan) => s.setFaultPlan((r) => plan({ method: r.httpMethod, path: r.path, rawBody: r.rawBody })),
    close: () => s.close(),
  };
}

async function discordRig(): Promise<Rig> {
  const s = await startDiscordServer({ echoOwnMessages: false, rateLimit: { limit: 10_000, windowMs: 1000 } });
  const channels = Array.from({ length: CONVERSATIONS }, (_, c) => String(1_400_000_000_000_000_000n + BigInt(c)));
  for (const id of channels) s.addChannel({ id, name: `c${id.slice(-3)}` });
  return {
    sender: createDiscordSender({ apiRoot: `${s.url}/api`, token: () => s.token, timeoutMs: 10_000 }),
    target: (c) => ({
      transport: "discord",
      account_id: "1100000000000000001",
      conversation_id: channels[c]!,
      thread_id: null,
      reply_to: null,
    }),
    textOf: (r) => (r.method === "POST" && /\/messages$/.test(r.path) ? jsonText(r.rawBody, (b) => b["content"]) : null),
    // §2.3: Retry-After + X-RateLimit-* (bucket exhausted for 1 s) + the JSON body.
    rateLimit: {
      kind: "fail",
      status: 429,
      body: { message: "You are being rate limited.", retry_after: 1, global: false },
      headers: { "retry-after": "1", "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "1.000", "x-ratelimit-scope": "user" },
    },
    delivered: () => channels.flatMap((id) => s.messagesIn(id).map((m) => String(m["content"]))),
    requests: () => s.requests.map((r) => ({ method: r.method, path: r.path, rawBody: r.rawBody, fault: r.fault })),
    setPlan: (plan) => s.setFaultPlan((r) => plan(r)),
    close: () => s.close(),
  };
}

async function whatsappRig(): Promise<Rig> {
  const s = await startWhatsAppGraphServer();
  const users = Array.from({ length: CONVERSATIONS }, (_, c) => String(16505550000 + c));
  for (const u of users) s.recordInbound(u);
  const e = graphError(130429);
  return {
    sender: createWhatsAppSender({ apiRoot: `${s.url}/v23.0`, token: () => s.accessToken, timeoutMs: 10_000 }),
    target: (c) => ({ transport: "whatsapp", account_id: s.phoneNumberId, conversation_id: users[c]!, thread_id: null, reply_to: null }),
    textOf: (r) =>
      r.method === "POST" && /\/messages$/.test(r.path)
        ? jsonText(r.rawBody, (b) => (b["text"] as { body?: unknown } | undefined)?.body)
        : null,
    // §3.7: the throughput limit is a Graph error code (130429), not an HTTP 429.
    rateLimit: { kind: "fail", status: e.status, body: e.body },
    delivered: () => s.sentMessages.map((m) => m.text ?? ""),
    requests: () => s.requests.map((r) => ({ method: r.method, path: r.path, rawBody: r.rawBody, fault: r.fault })),
    setPlan: (plan) => s.setFaultPlan((r) => plan(r)),
    close: () => s.close(),
  };
}

export interface FaultBenchResult {
  provider: Provider;
  seed: number;
  replies: number;
  calls: number;
  faults: Record<Kind, number>;
  /** Replies whose text the provider holds more than once (the server's own nonce dedupe already applied). */
  duplicates_delivered: number;
  /** Replies not delivered although every failure they met was safe to retry (rate limit, 502; a drop too for Discord). */
  stranded_safe_failures: number;
  /** Rows left `unknown` (ambiguous: the operator decides), and how many of them carry their evidence. */
  unknown: number;
  unknown_with_evidence: number;
  /** Of the unknown rows, how many the provider really holds (a drop after processing) and how many it does not. */
  unknown_delivered: number;
  rows: Record<string, number>;
  /** Rows marked sent whose text the provider does not hold (must be 0). */
  sent_but_missing: number;
  passes: number;
  elapsed_ms: number;
}

export async function runFaultBench(provider: Provider, replies: number, seed: number): Promise<FaultBenchResult> {
  const started = performance.now();
  const rig = await (provider === "telegram" ? telegramRig() : provider === "discord" ? discordRig() : whatsappRig());
  const home = makeTauHome(
    "runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n  max_attempts: 5\n  base_backoff_ms: 500\n  max_backoff_ms: 60000\n  http_timeout_ms: 10000\n",
  );
  const now = { ms: T0 };
  const app = home.open(() => now.ms);
  try {
    // Fault per request: hash(seed, text, how many times this text was sent before).
    const seen = new Map<string, number>();
    rig.setPlan((rec) => {
      const text = rig.textOf(rec);
      if (text === null) return undefined;
      const n = seen.get(text) ?? 0;
      seen.set(text, n + 1);
      const kind = kindFor(draw(seed, `${provider}:${text}#${n}`));
      if (kind === "rate_limited") return rig.rateLimit;
      if (kind === "html_502") return { kind: "raw", status: 502, body: htmlErrorPage(502), contentType: "text/html" };
      if (kind === "dropped") return { kind: "drop" };
      return undefined;
    });
    let jitter = seed;
    const delivery = createDelivery({
      store: app.store,
      senders: createRequestBuilders(app.config),
      dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
      provider: createProviderDelivery({
        store: app.store,
        senders: new Map([[rig.sender.transport, rig.sender]]),
        retry: app.config.outbound,
        clock: () => now.ms,
        random: () => (jitter = (jitter * 1103515245 + 12345) % 2147483648) / 2147483648,
      }),
      clock: () => now.ms,
    });
    const ids: { id: string; text: string }[] = [];
    app.store.atomically(() => {
      for (let i = 0; i < replies; i++) {
        const text = `reply ${String(i).padStart(4, "0")} from the fault bench`;
        const [id] = queueReplies(app.store, `bench:${i}`, rig.target(i % CONVERSATIONS), [{ purpose: "responder", text }], {
          mode: "provider",
          maxChars: 4096,
          now: now.ms,
        });
        ids.push({ id: id!, text });
      }
    });
    // Deliver what is due; move the virtual clock to the next due retry; stop when nothing waits any more.
    let passes = 0;
    for (; passes < 10_000; passes++) {
      await delivery.deliverPending();
      const waiting = app.store.outbox.pending(Number.MAX_SAFE_INTEGER, replies + 1);
      if (waiting.length === 0) break;
      const next = Math.min(...waiting.map((r) => r.next_attempt_at_ms));
      now.ms = Math.max(now.ms + 1, next);
      // A client holding a request back for its own rate-limit bucket (@discordjs/rest) waits in real time.
      await new Promise((r) => setTimeout(r, 5));
    }

    const held = new Map<string, number>();
    for (const t of rig.delivered()) held.set(t, (held.get(t) ?? 0) + 1);
    const met = new Map<string, Set<FaultKind>>();
    const faults: Record<Kind, number> = { rate_limited: 0, html_502: 0, dropped: 0 };
    let calls = 0;
    for (const r of rig.requests()) {
      const text = rig.textOf(r);
      if (text === null) continue;
      calls += 1;
      if (!r.fault) continue;
      const kind: Kind = r.fault === "drop" ? "dropped" : r.fault === "raw" ? "html_502" : "rate_limited";
      faults[kind] += 1;
      (met.get(text) ?? met.set(text, new Set()).get(text)!).add(r.fault);
    }
    const evidence = new Map(listDeadLetters(app.store, { limit: 100_000 }).map((d) => [d.outbox_id, d.last_error]));
    const rows: Record<string, number> = {};
    let duplicates = 0;
    let stranded = 0;
    let unknown = 0;
    let unknownWithEvidence = 0;
    let unknownDelivered = 0;
    let sentButMissing = 0;
    for (const { id, text } of ids) {
      const row = app.store.outbox.get(id)!;
      rows[row.status] = (rows[row.status] ?? 0) + 1;
      const n = held.get(text) ?? 0;
      if (n > 1) duplicates += 1;
      // A drop is safe to retry only for an idempotent sender (Discord nonce).
      const onlySafe = rig.sender.idempotent || !met.get(text)?.has("drop");
      if (row.status !== "sent" && onlySafe) stranded += 1;
      if (row.status === "sent" && n === 0) sentButMissing += 1;
      if (row.status === "unknown") {
        unknown += 1;
        if (evidence.get(id)) unknownWithEvidence += 1;
        if (n > 0) unknownDelivered += 1;
      }
    }
    return {
      provider,
      seed,
      replies,
      calls,
      faults,
      duplicates_delivered: duplicates,
      stranded_safe_failures: stranded,
      unknown,
      unknown_with_evidence: unknownWithEvidence,
      unknown_delivered: unknownDelivered,
      rows,
      sent_but_missing: sentButMissing,
      passes,
      elapsed_ms: Math.round(performance.now() - started),
    };
  } finally {
    app.close();
    home.cleanup();
    await rig.close();
  }
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const asked = process.argv.slice(2).filter((a): a is Provider => a === "telegram" || a === "discord" || a === "whatsapp");
  const providers: Provider[] = asked.length ? asked : ["telegram", "discord", "whatsapp"];
  const replies = arg("replies", 300);
  const seed = arg("seed", 14);
  const results: FaultBenchResult[] = [];
  console.log(
    `delivery under provider faults: ${replies} replies per provider, seed ${seed}; per send ${MIX.rate_limited * 100}% rate limited (retry after 1 s), ${MIX.html_502 * 100}% 502 with an HTML body, ${MIX.dropped * 100}% dropped after the request was processed`,
  );
  console.log("provider   calls  429s  502s  drops  duplicates  stranded-safe  unknown (with evidence, really delivered)  rows");
  for (const p of providers) {
    const r = await runFaultBench(p, replies, seed);
    results.push(r);
    console.log(
      `${p.padEnd(9)} ${String(r.calls).padStart(6)} ${String(r.faults.rate_limited).padStart(5)} ${String(r.faults.html_502).padStart(5)} ${String(r.faults.dropped).padStart(6)} ${String(r.duplicates_delivered).padStart(11)} ${String(r.stranded_safe_failures).padStart(14)}  ${String(r.unknown).padStart(7)} (${r.unknown_with_evidence}, ${r.unknown_delivered})${" ".repeat(28)}${Object.entries(
        r.rows,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
  }
  console.log("targets: duplicates 0, stranded safe failures 0, every unknown with its evidence, no row sent that the provider lacks");
  console.log(JSON.stringify({ name: "faults", results }));
}
