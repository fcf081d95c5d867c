/**
 * Pacing end to end in provider mode, wired as src/app/runner.ts wires it (`createPacedSenders` + `createPacingGate`),
 * with the real clients (grammY, axios) against local servers that ENFORCE the providers' limits
 * (test/helpers/rate-limits.ts): zero 429s / 131056s and every conversation's order kept, where the same load without
 * pacing is refused. Limits are scaled down (windows of 200 ms – 1 s) so a run takes seconds; nothing is timed.
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ProviderSender } from "../../src/contracts/delivery.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { createRequestBuilders, type App } from "../../src/app/index.ts";
import { createDelivery } from "../../src/outbound/deliver.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { createProviderDelivery } from "../../src/outbound/provider.ts";
import { createPacer } from "../../src/outbound/pacing.ts";
import { createPacedSenders, createPacingGate, DEFAULT_PACING, type PacingConfig } from "../../src/outbound/pacing-senders.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { createWhatsAppSender } from "../../connectors/whatsapp/sender.ts";
import { createDiscordSender } from "../../connectors/discord/sender.ts";
import { startDiscordServer, DEFAULT_CHANNEL_ID } from "../helpers/discord-server.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { startWhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";
import { createTelegramRateLimits, createWhatsAppRateLimits } from "../helpers/rate-limits.ts";
import { makeTauHome } from "../helpers/tau-home.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Scaled Telegram limits, the same numbers for the server and the pacer. */
const TG_LIMITS = {
  per_chat: { count: 1, window_ms: 200 },
  per_group: { count: 4, window_ms: 1000 },
  per_bot: { count: 20, window_ms: 1000 },
};
const WA_LIMITS = { per_recipient: { count: 1, window_ms: 300 }, per_number: { count: 20, window_ms: 1000 } };
const PACING: PacingConfig = { ...DEFAULT_PACING, max_wait_ms: 300, telegram: TG_LIMITS, whatsapp: WA_LIMITS };

/** Provider delivery in a temp tau home, paced with `pacing` (or not, when null), on the given clock. */
function rig(sender: ProviderSender, pacing: PacingConfig | null, clock: () => number = () => Date.now()) {
  const home = makeTauHome(
    "runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n  max_chars: 64\n  max_attempts: 3\n  base_backoff_ms: 50\n  max_backoff_ms: 200\n  http_timeout_ms: 2000\n",
  );
  const app: App = home.open(clock);
  cleanups.push(() => {
    app.close();
    home.cleanup();
  });
  const senders = new Map([[sender.transport, sender]]);
  const pacer = createPacer({ clock, maxWaitMs: pacing?.max_wait_ms ?? 0 });
  const delivery = createDelivery({
    store: app.store,
    senders: createRequestBuilders(app.config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    provider: createProviderDelivery({
      store: app.store,
      senders: pacing ? createPacedSenders(senders, pacer, pacing, clock) : senders,
      retry: app.config.outbound,
      clock,
      random: () => 0.5,
    }),
    ...(pacing ? { pacing: createPacingGate(pacer, pacing) } : {}),
    clock,
  });
  let n = 0;
  return {
    app,
    delivery,
    queue(target: ReplyTarget, text: string): string {
      return app.store.atomically(() =>
        queueReplies(app.store, `test:event:${++n}`, target, [{ purpose: "responder", text }], {
          mode: "provider",
          maxChars: 64,
          now: clock(),
        }),
      )[0]!;
    },
    /** Deliver as the runner does (a pass, then a short idle) until nothing is pending; bounded. */
    async settle(deadlineMs = 20_000): Promise<number> {
      const end = Date.now() + deadlineMs;
      let passes = 0;
      while (app.store.outbox.countPending() > 0) {
        if (Date.now() > end) throw new Error(`still ${app.store.outbox.countPending()} pending after ${deadlineMs} ms`);
        await delivery.deliverPending();
        passes += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
      return passes;
    },
  };
}

const tg = (conversation_id: string): ReplyTarget => ({
  transport: "telegram",
  account_id: "6112",
  conversation_id,
  thread_id: null,
  reply_to: null,
});
const wa = (conversation_id: string): ReplyTarget => ({
  transport: "whatsapp",
  account_id: "106540352242922",
  conversation_id,
  thread_id: null,
  reply_to: null,
});

async function telegramServer() {
  const limits = createTelegramRateLimits(TG_LIMITS);
  const server = await startTelegramBotApiServer({ rateLimits: limits });
  cleanups.push(() => server.close());
  const sender = createTelegramSender({ apiRoot: server.url, token: () => server.token, timeoutMs: 2000 });
  return { server, limits, sender };
}

/** 24 private chats one reply each, two chats three replies each, a group six, one two-chunk reply. */
function telegramLoad(r: ReturnType<typeof rig>): void {
  for (let i = 0; i < 24; i++) r.queue(tg(String(5000 + i)), `p${i}`);
  for (let k = 1; k <= 3; k++) {
    r.queue(tg("7001"), `a${k}`);
    r.queue(tg("7002"), `b${k}`);
  }
  for (let k = 1; k <= 6; k++) r.queue(tg("-100900"), `g${k}`);
  r.queue(tg("7003"), `${"x".repeat(60)} ${"y".repeat(40)}`);
}

const textsTo = (server: Awaited<ReturnType<typeof telegramServer>>["server"], chatId: number) =>
  server.sentMessages.filter((m) => m.chat_id === chatId).map((m) => m.params["text"]);

describe("pacing: Telegram through grammY against a server enforcing 1/chat, n/group, n/bot", () => {
  it("without pacing the same load is refused with the real 429 body (the server enforces the limits)", async () => {
    const { server, limits, sender } = await telegramServer();
    const r = rig(sender, null);
    telegramLoad(r);
    await r.delivery.deliverPending();
    expect(limits.rejections.length).toBeGreaterThan(0);
    const refused = server.requests.find((q) => q.status === 429)!;
    expect(refused.response).toEqual({
      ok: false,
      error_code: 429,
      description: `Too Many Requests: retry after ${limits.rejections[0]!.retry_after_s}`,
      parameters: { retry_after: limits.rejections[0]!.retry_after_s },
    });
  });

  it("paced: every reply sent, zero 429s, each conversation in order", async () => {
    const { server, limits, sender } = await telegramServer();
    const r = rig(sender, PACING);
    telegramLoad(r);
    await r.settle();
    expect(limits.rejections).toEqual([]);
    expect(server.requests.filter((q) => q.status === 429)).toEqual([]);
    expect(server.sentMessages).toHaveLength(24 + 6 + 6 + 2);
    expect(textsTo(server, 7001)).toEqual(["a1", "a2", "a3"]);
    expect(textsTo(server, 7002)).toEqual(["b1", "b2", "b3"]);
    expect(textsTo(server, -100900)).toEqual(["g1", "g2", "g3", "g4", "g5", "g6"]);
    expect(textsTo(server, 7003)).toEqual(["x".repeat(60), "y".repeat(40)]);
    expect(r.app.store.counters.all()["deliveries.delivery_sent"]).toBe(38);
  });

  it("a 429 still honours retry_after, and the chat's next reply waits behind the refused one", async () => {
    const { server, sender } = await telegramServer();
    // Real time plus a jump the test makes (the pacer's short waits run on real timers).
    const offset = { ms: 0 };
    const clock = () => Date.now() + offset.ms;
    const r = rig(sender, PACING, clock);
    server.rateLimitNext(7, { method: "sendMessage" });
    const first = r.queue(tg("8001"), "first");
    const before = clock();
    await r.delivery.deliverPending();
    const f = r.app.store.outbox.get(first)!;
    expect(f).toMatchObject({ status: "retry_scheduled", reason: "delivery_rate_limited", attempts: 0 });
    expect(f.next_attempt_at_ms).toBeGreaterThanOrEqual(before + 7000);
    expect(f.next_attempt_at_ms).toBeLessThanOrEqual(clock() + 7000);
    offset.ms += 1000;
    const second = r.queue(tg("8001"), "second");
    await r.delivery.deliverPending();
    // Not sent ahead of "first": deferred to after first's retry time.
    expect(server.sentMessages).toEqual([]);
    // It waits in the outbox behind "first": the outbox does not hand it out while "first" is not due.
    expect(r.app.store.outbox.get(second)!.status).toBe("queued");
    offset.ms += f.next_attempt_at_ms - clock() + 1;
    await r.settle();
    expect(textsTo(server, 8001)).toEqual(["first", "second"]);
    expect(server.requests.filter((q) => q.status === 429)).toHaveLength(1);
  });
});

describe("pacing: WhatsApp pair rate and throughput against a server answering 131056 / 130429", () => {
  async function whatsappServer() {
    const limits = createWhatsAppRateLimits(WA_LIMITS);
    const server = await startWhatsAppGraphServer({ rateLimits: limits });
    cleanups.push(() => server.close());
    for (const u of ["16505550001", "16505550002", ...MANY]) server.recordInbound(u);
    const sender = createWhatsAppSender({ apiRoot: `${server.url}/v23.0`, token: () => server.accessToken, timeoutMs: 2000 });
    return { server, limits, sender };
  }
  /** 24 more users, one message each: over the number's 20/s (130429) when not paced. */
  const MANY = Array.from({ length: 24 }, (_, i) => `1650555${String(1000 + i)}`);
  const load = (r: ReturnType<typeof rig>) => {
    for (let k = 1; k <= 4; k++) r.queue(wa("16505550001"), `u1-${k}`);
    for (let k = 1; k <= 2; k++) r.queue(wa("16505550002"), `u2-${k}`);
    for (const u of MANY) r.queue(wa(u), `hello ${u}`);
  };

  it("without pacing a second message to the same user is refused with 131056, a burst over the number with 130429", async () => {
    const pair = await whatsappServer();
    const r1 = rig(pair.sender, null);
    for (let k = 1; k <= 3; k++) r1.queue(wa("16505550001"), `u1-${k}`);
    await r1.delivery.deliverPending();
    expect(pair.limits.rejections.map((x) => x.code)).toContain(131056);
    const refused = pair.server.requests.find((q) => (q.response as { error?: { code?: number } })?.error?.code === 131056)!;
    expect(refused.status).toBe(400);

    const burst = await whatsappServer();
    const r2 = rig(burst.sender, null);
    for (const u of MANY) r2.queue(wa(u), `hello ${u}`);
    await r2.delivery.deliverPending();
    expect(burst.limits.rejections.map((x) => x.code)).toContain(130429);
  });

  it("paced: zero pair-rate and throughput errors, each user's messages in order", async () => {
    const { server, limits, sender } = await whatsappServer();
    const r = rig(sender, PACING);
    load(r);
    await r.settle();
    expect(limits.rejections).toEqual([]);
    expect(server.sentMessages.filter((m) => m.to === "16505550001").map((m) => m.text)).toEqual(["u1-1", "u1-2", "u1-3", "u1-4"]);
    expect(server.sentMessages.filter((m) => m.to === "16505550002").map((m) => m.text)).toEqual(["u2-1", "u2-2"]);
    expect(server.sentMessages).toHaveLength(4 + 2 + 24);
  });
});

describe("pacing: Discord per-route buckets come from @discordjs/rest and the X-RateLimit-* headers", () => {
  it("a reply rescheduled after a failure is not overtaken by its conversation's later replies (unpaced transport)", async () => {
    const server = await startDiscordServer();
    cleanups.push(() => server.close());
    server.failNext({ match: (q) => (q.body as { content?: string } | undefined)?.content === "d1", status: 500 });
    const sender = createDiscordSender({ apiRoot: `${server.url}/api`, token: () => server.token, timeoutMs: 2000 });
    let t = Date.now();
    const r = rig(sender, null, () => t);
    const target: ReplyTarget = {
      transport: "discord",
      account_id: "1100000000000000001",
      conversation_id: DEFAULT_CHANNEL_ID,
      thread_id: null,
      reply_to: null,
    };
    for (const text of ["d1", "d2", "d3"]) r.queue(target, text);
    // Pass 1: d1 fails (500, retryable) and is rescheduled; d2 and d3 must not go out ahead of it in the same pass,
    await r.delivery.deliverPending();
    expect(server.sentMessages.map((m) => m.content)).toEqual([]);
    // … nor in a later pass while d1 is not due yet.
    await r.delivery.deliverPending();
    expect(server.sentMessages.map((m) => m.content)).toEqual([]);
    t += 10_000;
    await r.settle();
    expect(server.sentMessages.map((m) => m.content)).toEqual(["d1", "d2", "d3"]);
  });

  it("a channel over its bucket: REST holds the sends back (rescheduled), zero 429s, order kept", async () => {
    // The server answers 429 when a client ignores its headers (3 per 500 ms per route and channel).
    const server = await startDiscordServer({ rateLimit: { limit: 3, windowMs: 500, enforce: true } });
    cleanups.push(() => server.close());
    const sender = createDiscordSender({ apiRoot: `${server.url}/api`, token: () => server.token, timeoutMs: 2000 });
    const r = rig(sender, PACING);
    const target: ReplyTarget = {
      transport: "discord",
      account_id: "1100000000000000001",
      conversation_id: DEFAULT_CHANNEL_ID,
      thread_id: null,
      reply_to: null,
    };
    for (let k = 1; k <= 7; k++) r.queue(target, `d${k}`);
    await r.settle();
    const posts = server.requests.filter((q) => q.method === "POST" && q.path === `/channels/${DEFAULT_CHANNEL_ID}/messages`);
    expect(posts.filter((q) => q.status === 429)).toEqual([]);
    expect(server.sentMessages.map((m) => m.content)).toEqual(["d1", "d2", "d3", "d4", "d5", "d6", "d7"]);
    // The bucket ran out: REST refused locally (no request, no status) and the rows were rescheduled.
    expect(r.app.store.counters.all()["deliveries.delivery_rate_limited"]).toBeGreaterThan(0);
  });
});
