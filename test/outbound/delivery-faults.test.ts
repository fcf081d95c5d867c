/**
 * Provider-mode delivery under provider faults (issue 14), through the real path (outbox → createProviderDelivery → the
 * real client → the local server). Faults are scripted per reply and per attempt. What must hold: no reply reaches the
 * provider twice; every reply whose failures were all safe to retry is delivered; a reply whose send may have arrived
 * is left `unknown` with its evidence (Discord re-sends it under its nonce instead); rate limits use no attempt.
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ProviderSender } from "../../src/contracts/delivery.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { createRequestBuilders, type App } from "../../src/app/index.ts";
import { listDeadLetters } from "../../src/outbound/dead-letters.ts";
import { createDelivery } from "../../src/outbound/deliver.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { createProviderDelivery } from "../../src/outbound/provider.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { createDiscordSender } from "../../connectors/discord/sender.ts";
import { createWhatsAppSender } from "../../connectors/whatsapp/sender.ts";
import { htmlErrorPage, type PlannedFault } from "../helpers/http-faults.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { startDiscordServer } from "../helpers/discord-server.ts";
import { graphError, startWhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";
import { makeTauHome } from "../helpers/tau-home.ts";

const T0 = 1_763_712_000_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

type Step = "rate_limited" | "html_502" | "empty_500" | "drop" | "ok";

/** One provider: its server behind a scripted plan, the sender, targets, and what the server holds. */
interface Provider {
  name: string;
  start(): Promise<{
    sender: ProviderSender;
    target(conversation: number): ReplyTarget;
    /** The reply text of a send request, null for other requests. */
    textOf(rec: { method: string; path: string; rawBody: string }): string | null;
    rateLimit: PlannedFault;
    held(): string[];
    sends(): number;
    plan(fn: (rec: { method: string; path: string; rawBody: string }) => PlannedFault | undefined): void;
    close(): Promise<void>;
  }>;
}

const field = (raw: string, pick: (b: Record<string, unknown>) => unknown): string | null => {
  try {
    const v = pick(JSON.parse(raw) as Record<string, unknown>);
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
};

const providers: Provider[] = [
  {
    name: "telegram",
    async start() {
      const s = await startTelegramBotApiServer();
      return {
        sender: createTelegramSender({ apiRoot: s.url, token: () => s.token, timeoutMs: 2000 }),
        target: (c) => ({ transport: "telegram", account_id: "6112", conversation_id: String(5000 + c), thread_id: null, reply_to: null }),
        textOf: (r) => (/\/sendMessage$/.test(r.path) ? field(r.rawBody, (b) => b["text"]) : null),
        rateLimit: {
          kind: "fail",
          status: 429,
          body: { ok: false, error_code: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } },
        },
        held: () => s.sentMessages.map((m) => m.text ?? ""),
        sends: () => s.callsTo("sendMessage").length,
        plan: (fn) => s.setFaultPlan((r) => fn({ method: r.httpMethod, path: r.path, rawBody: r.rawBody })),
        close: () => s.close(),
      };
    },
  },
  {
    name: "discord",
    async start() {
      const s = await startDiscordServer({ echoOwnMessages: false });
      const channels = [0, 1, 2, 3, 4].map((c) => String(1_400_000_000_000_000_000n + BigInt(c)));
      for (const id of channels) s.addChannel({ id, name: `c${id.slice(-1)}` });
      return {
        sender: createDiscordSender({ apiRoot: `${s.url}/api`, token: () => s.token, timeoutMs: 2000 }),
        target: (c) => ({
          transport: "discord",
          account_id: "1100000000000000001",
          conversation_id: channels[c]!,
          thread_id: null,
          reply_to: null,
        }),
        textOf: (r) => (r.method === "POST" && /\/messages$/.test(r.path) ? field(r.rawBody, (b) => b["content"]) : null),
        // Retry-After without exhausting the bucket: REST rejects at once and tau's scheduler owns the wait.
        rateLimit: {
          kind: "fail",
          status: 429,
          body: { message: "You are being rate limited.", retry_after: 1, global: false },
          headers: { "retry-after": "1", "x-ratelimit-scope": "user" },
        },
        held: () => channels.flatMap((id) => s.messagesIn(id).map((m) => String(m["content"]))),
        sends: () => s.requests.filter((r) => r.method === "POST" && r.path.endsWith("/messages")).length,
        plan: (fn) => s.setFaultPlan(fn),
        close: () => s.close(),
      };
    },
  },
  {
    name: "whatsapp",
    async start() {
      const s = await startWhatsAppGraphServer();
      const users = [0, 1, 2, 3, 4].map((c) => String(16505550100 + c));
      for (const u of users) s.recordInbound(u);
      const e = graphError(130429);
      return {
        sender: createWhatsAppSender({ apiRoot: `${s.url}/v23.0`, token: () => s.accessToken, timeoutMs: 2000 }),
        target: (c) => ({
          transport: "whatsapp",
          account_id: s.phoneNumberId,
          conversation_id: users[c]!,
          thread_id: null,
          reply_to: null,
        }),
        textOf: (r) =>
          r.method === "POST" && /\/messages$/.test(r.path)
            ? field(r.rawBody, (b) => (b["text"] as { body?: unknown } | undefined)?.body)
            : null,
        rateLimit: { kind: "fail", status: e.status, body: e.body },
        held: () => s.sentMessages.map((m) => m.text ?? ""),
        sends: () => s.requests.filter((r) => r.method === "POST" && r.path.endsWith("/messages")).length,
        plan: (fn) => s.setFaultPlan(fn),
        close: () => s.close(),
      };
    },
  },
];

/** The script: what each send of a reply meets, by reply class (index mod 6), attempt by attempt; then success. */
const SCRIPT: Step[][] = [
  ["rate_limited", "html_502"],
  ["drop"],
  ["html_502", "html_502"],
  ["empty_500"],
  ["rate_limited", "rate_limited", "rate_limited", "rate_limited"],
  [],
];
const REPLIES = 30;

function rigApp(maxAttempts: number): { app: App; now: { ms: number } } {
  const home = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n  max_attempts: ${maxAttempts}\n  base_backoff_ms: 1000\n  max_backoff_ms: 60000\n  http_timeout_ms: 2000\n`,
  );
  const now = { ms: T0 };
  const app = home.open(() => now.ms);
  cleanups.push(() => {
    app.close();
    home.cleanup();
  });
  return { app, now };
}

describe.each(providers)("$name: 30 replies against a scripted fault mix", (p) => {
  it("none delivered twice; every reply with only safe failures delivered; the rest unknown with evidence", async () => {
    const server = await p.start();
    cleanups.push(() => server.close());
    const sendsOf = new Map<string, number>();
    server.plan((rec) => {
      const text = server.textOf(rec);
      if (text === null) return undefined;
      const n = sendsOf.get(text) ?? 0;
      sendsOf.set(text, n + 1);
      const step = SCRIPT[Number(/reply (\d+)/.exec(text)![1]) % SCRIPT.length]![n] ?? "ok";
      if (step === "rate_limited") return server.rateLimit;
      if (step === "html_502") return { kind: "raw", status: 502, body: htmlErrorPage(502), contentType: "text/html" };
      if (step === "empty_500") return { kind: "raw", status: 500, body: "" };
      if (step === "drop") return { kind: "drop" };
      return undefined;
    });
    // max_attempts 3: two 502s and a success fit; the four rate limits use no attempt at all.
    const { app, now } = rigApp(3);
    const delivery = createDelivery({
      store: app.store,
      senders: createRequestBuilders(app.config),
      dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
      provider: createProviderDelivery({
        store: app.store,
        senders: new Map([[server.sender.transport, server.sender]]),
        retry: app.config.outbound,
        clock: () => now.ms,
        random: () => 0.5,
      }),
      clock: () => now.ms,
    });
    const ids = app.store.atomically(() =>
      Array.from({ length: REPLIES }, (_, i) => {
        const text = `reply ${i} under faults`;
        return queueReplies(app.store, `faults:${i}`, server.target(i % 5), [{ purpose: "responder", text }], {
          mode: "provider",
          maxChars: 2000,
          now: now.ms,
        })[0]!;
      }),
    );
    // Move the clock to each next due time. @discordjs/rest also holds requests back in real time (its own global
    // 50/s budget): give it a moment between passes, within a bounded deadline.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      await delivery.deliverPending();
      const waiting = app.store.outbox.pending(Number.MAX_SAFE_INTEGER, 100);
      if (waiting.length === 0) break;
      now.ms = Math.max(now.ms + 1, ...waiting.map((r) => r.next_attempt_at_ms));
      await new Promise((r) => setTimeout(r, 10));
    }

    const held = server.held();
    const count = (t: string) => held.filter((h) => h === t).length;
    const statuses = ids.map((id) => app.store.outbox.get(id)!.status);
    for (let i = 0; i < REPLIES; i++) expect(count(`reply ${i} under faults`), `reply ${i}`).toBe(1);
    const dropped = ids.filter((_, i) => i % SCRIPT.length === 1);
    if (p.name === "discord") {
      // The nonce makes the re-send of an ambiguous create return the message that exists.
      expect(statuses).toEqual(ids.map(() => "sent"));
    } else {
      expect(ids.filter((id) => app.store.outbox.get(id)!.status === "unknown")).toEqual(dropped);
      expect(statuses.filter((s) => s === "sent")).toHaveLength(REPLIES - dropped.length);
      const dl = listDeadLetters(app.store);
      expect(dl.map((d) => [d.outbox_id, d.kind])).toEqual(dropped.map((id) => [id, "ambiguous"]));
      expect(dl[0]!.evidence).toMatchObject({
        chunk: 0,
        chunk_count: 1,
        text: "reply 1 under faults",
        sent_at_ms: T0,
        error: { code: "delivery_ambiguous", status: null },
      });
    }
    // Calls per class of 6 replies: 3 + 1 + 3 + 2 + 5 + 1 (Discord: + 1 nonce re-send of the dropped one).
    expect(server.sends()).toBe(5 * (15 + (p.name === "discord" ? 1 : 0)));
  });
});
