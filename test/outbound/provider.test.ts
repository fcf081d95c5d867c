/**
 * Provider-mode delivery with the REAL clients (grammY, @discordjs/rest, axios) against the local provider
 * servers: receipts, retries and their schedule, dead letters, resuming multi-chunk replies, ambiguous sends,
 * Telegram migration, the WhatsApp 24 h window, and no token anywhere. Built the way src/app wires it:
 * `createDelivery({ provider: createProviderDelivery(...) })`. The clock is injected; no test sleeps for a retry.
 */
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ProviderSender } from "../../src/contracts/delivery.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { createRequestBuilders, type App } from "../../src/app/index.ts";
import { createDelivery, type Delivery, type DeliveryReport } from "../../src/outbound/deliver.ts";
import { replayDeadLetters } from "../../src/outbound/dead-letters.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { createProviderDelivery } from "../../src/outbound/provider.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { createDiscordSender } from "../../connectors/discord/sender.ts";
import { createWhatsAppSender } from "../../connectors/whatsapp/sender.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { startDiscordServer, DEFAULT_CHANNEL_ID, type DiscordServer } from "../helpers/discord-server.ts";
import { startWhatsAppGraphServer, type WhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const T0 = 1_763_712_000_000;
const OUTBOUND = (maxChars = 4096) =>
  `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n  max_chars: ${maxChars}\n  max_attempts: 3\n  base_backoff_ms: 1000\n  max_backoff_ms: 60000\n  http_timeout_ms: 2000\n`;

interface Rig {
  home: TauHome;
  app: App;
  now: { ms: number };
  delivery: Delivery;
  deliver(): Promise<DeliveryReport>;
  queue(target: ReplyTarget, text: string, eventId?: string): string;
  row(id: string): { status: string; reason: string | null; attempts: number; next_attempt_at_ms: number };
  chunks(
    id: string,
  ): { idx: number; body: string; status: string; reason: string | null; receipt: string | null; provider_message_id: string | null }[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A tau home in provider mode whose delivery uses exactly these senders; random() = 0.5 for the jitter. */
function rig(senders: ProviderSender[], maxChars?: number): Rig {
  const home = makeTauHome(OUTBOUND(maxChars));
  const now = { ms: T0 };
  const app = home.open(() => now.ms);
  cleanups.push(() => {
    app.close();
    home.cleanup();
  });
  const provider = createProviderDelivery({
    store: app.store,
    senders: new Map(senders.map((s) => [s.transport, s])),
    retry: app.config.outbound,
    clock: () => now.ms,
    random: () => 0.5,
  });
  const delivery = createDelivery({
    store: app.store,
    senders: createRequestBuilders(app.config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    provider,
    clock: () => now.ms,
  });
  let n = 0;
  return {
    home,
    app,
    now,
    delivery,
    deliver: () => delivery.deliverPending(),
    queue(target, text, eventId = `test:event:${++n}`) {
      return app.store.atomically(() =>
        queueReplies(app.store, eventId, target, [{ purpose: "responder", text }], {
          mode: "provider",
          maxChars: app.config.outbound.max_chars,
          now: now.ms,
        }),
      )[0]!;
    },
    row: (id) => app.store.outbox.get(id)!,
    chunks: (id) => app.store.outbox.chunksOf(id),
  };
}

async function telegram(): Promise<TelegramBotApiServer> {
  const s = await startTelegramBotApiServer();
  cleanups.push(() => s.close());
  return s;
}
async function discord(): Promise<DiscordServer> {
  const s = await startDiscordServer();
  cleanups.push(() => s.close());
  return s;
}
async function whatsapp(): Promise<WhatsAppGraphServer> {
  const s = await startWhatsAppGraphServer();
  cleanups.push(() => s.close());
  return s;
}

const tgTarget = (conversation_id = "-1001234", extra: Partial<ReplyTarget> = {}): ReplyTarget => ({
  transport: "telegram",
  account_id: "6112",
  conversation_id,
  thread_id: null,
  reply_to: null,
  ...extra,
});
const dcTarget = (extra: Partial<ReplyTarget> = {}): ReplyTarget => ({
  transport: "discord",
  account_id: "1100000000000000001",
  conversation_id: DEFAULT_CHANNEL_ID,
  thread_id: null,
  reply_to: null,
  ...extra,
});
const waTarget = (extra: Partial<ReplyTarget> = {}): ReplyTarget => ({
  transport: "whatsapp",
  account_id: "106540352242922",
  conversation_id: "16505551234",
  thread_id: null,
  reply_to: null,
  ...extra,
});

const tgSender = (s: TelegramBotApiServer, token: string | null = s.token) =>
  createTelegramSender({ apiRoot: s.url, token: () => token, timeoutMs: 2000 });
const dcSender = (s: DiscordServer, timeoutMs = 2000) => createDiscordSender({ apiRoot: `${s.url}/api`, token: () => s.token, timeoutMs });
const waSender = (s: WhatsAppGraphServer) =>
  createWhatsAppSender({ apiRoot: `${s.url}/v23.0`, token: () => s.accessToken, timeoutMs: 2000 });

describe("provider delivery: success", () => {
  it("Telegram: sends the dry-run request shape and records the provider message id", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)]);
    const id = r.queue(tgTarget("-1001234", { thread_id: "77", reply_to: "311" }), "hello from tau");
    // The pass counts the chunks it sent (it counted dry-run chunks only: provider passes reported 0).
    expect(await r.deliver()).toEqual({ rows: 1, chunks: 1, held: 0, retries: 0 });
    expect(r.row(id)).toMatchObject({ status: "sent", reason: "delivery_sent", attempts: 1 });
    const [c] = r.chunks(id);
    expect(c).toMatchObject({ status: "sent", reason: "delivery_sent", provider_message_id: "-1001234:1" });
    expect(JSON.parse(c!.receipt!)).toEqual({ state: "sent", at_ms: T0 });
    const call = tg.callsTo("sendMessage")[0]!;
    expect(call.params).toEqual({
      chat_id: -1001234,
      text: "hello from tau",
      message_thread_id: 77,
      reply_parameters: { message_id: 311, allow_sending_without_reply: true },
    });
    expect(r.app.store.counters.all()["deliveries.delivery_sent"]).toBe(1);
  });

  it("Discord: nonce + enforce_nonce + no mentions, message id recorded", async () => {
    const dc = await discord();
    const r = rig([dcSender(dc)]);
    const id = r.queue(dcTarget(), "hi @everyone");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "sent", reason: "delivery_sent" });
    expect(dc.sentMessages).toHaveLength(1);
    const post = dc.requests.find((q) => q.method === "POST")!;
    expect(post.path).toBe(`/channels/${DEFAULT_CHANNEL_ID}/messages`);
    expect(post.body).toEqual({
      content: "hi @everyone",
      allowed_mentions: { parse: [], replied_user: false },
      nonce: `${id.slice(3, 21)}-0`,
      enforce_nonce: true,
    });
    expect(r.chunks(id)[0]!.provider_message_id).toBe((post.response as { id: string }).id);
  });

  it("WhatsApp: Bearer token, reply context, wamid recorded", async () => {
    const wa = await whatsapp();
    wa.recordInbound("16505551234");
    const r = rig([waSender(wa)]);
    const id = r.queue(waTarget({ reply_to: "wamid.IN1" }), "got it");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "sent", reason: "delivery_sent" });
    expect(wa.sentMessages).toHaveLength(1);
    const req = wa.requests.find((q) => q.method === "POST")!;
    expect(req.headers["authorization"]).toBe(`Bearer ${wa.accessToken}`);
    expect(req.body).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      to: "16505551234",
      type: "text",
      text: { preview_url: false, body: "got it" },
      context: { message_id: "wamid.IN1" },
    });
    expect(r.chunks(id)[0]!.provider_message_id).toBe(wa.sentMessages[0]!.id);
  });
});

describe("provider delivery: many conversations", () => {
  it("sends different conversations together, keeps each conversation's order, and a failure stays in its row", async () => {
    const tg = await telegram();
    tg.blockChat(3003);
    tg.delayNext(300, { method: "sendMessage", count: 10 });
    const r = rig([tgSender(tg)]);
    const a = ["a1", "a2", "a3"].map((t) => r.queue(tgTarget("1001"), t));
    const b = r.queue(tgTarget("2002"), "b1");
    const c = r.queue(tgTarget("3003"), "c1");
    // Five rows, four chunks sent (c1's chat blocked the bot).
    expect(await r.deliver()).toEqual({ rows: 5, chunks: 4, held: 0, retries: 0 });
    for (const id of [...a, b]) expect(r.row(id)).toMatchObject({ status: "sent", reason: "delivery_sent" });
    expect(r.row(c)).toMatchObject({ status: "failed", reason: "delivery_recipient_blocked" });
    const calls = tg.callsTo("sendMessage");
    expect(calls.filter((q) => q.params.chat_id === 1001).map((q) => q.params.text)).toEqual(["a1", "a2", "a3"]);
    // The first wave (a1, b1, c1) was in flight together: each arrived before the first one's 300 ms answer.
    const firstWave = calls.slice(0, 3);
    expect(firstWave.map((q) => q.params.text).sort()).toEqual(["a1", "b1", "c1"]);
    expect(firstWave[2]!.at - firstWave[0]!.at).toBeLessThan(300);
  });
});

describe("provider delivery: retries", () => {
  it("Telegram 429 retry_after → retry_scheduled at now + retry_after (no attempt used), then one message on the next attempt", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)]);
    tg.rateLimitNext(3, { method: "sendMessage" });
    const id = r.queue(tgTarget(), "flood");
    await r.deliver();
    expect(r.row(id)).toEqual(
      expect.objectContaining({ status: "retry_scheduled", reason: "delivery_rate_limited", attempts: 0, next_attempt_at_ms: T0 + 3000 }),
    );
    expect(r.chunks(id)[0]).toMatchObject({ status: "retry_scheduled", reason: "delivery_rate_limited" });
    r.now.ms = T0 + 2999;
    expect(await r.deliver()).toEqual({ rows: 0, chunks: 0, held: 0, retries: 0 });
    r.now.ms = T0 + 3000;
    // The pass says the row it sent was a retry (the runner's `retries` in its cycle report).
    expect(await r.deliver()).toEqual({ rows: 1, chunks: 1, held: 0, retries: 1 });
    expect(r.row(id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(tg.callsTo("sendMessage")).toHaveLength(2);
    expect(tg.sentMessages).toHaveLength(1);
  });

  it("Discord 429 with Retry-After: our scheduler owns the wait (REST does not retry), one message in the end", async () => {
    const dc = await discord();
    const r = rig([dcSender(dc)]);
    dc.rateLimitNext({ match: "POST /channels", retryAfter: 0.3 });
    const id = r.queue(dcTarget(), "slow down");
    await r.deliver();
    // jitter 0.5 × 1000 = 500 > 300 ms: the longer wait wins; a rate limit uses no attempt.
    expect(r.row(id)).toMatchObject({
      status: "retry_scheduled",
      reason: "delivery_rate_limited",
      attempts: 0,
      next_attempt_at_ms: T0 + 500,
    });
    expect(dc.requests.filter((q) => q.method === "POST")).toHaveLength(1);
    // REST also remembers the exhausted bucket (real time); while it holds the request back no attempt is used.
    const deadline = Date.now() + 5000;
    while (r.row(id).status !== "sent" && Date.now() < deadline) {
      r.now.ms = r.row(id).next_attempt_at_ms;
      await r.deliver();
      if (r.row(id).status !== "sent") await new Promise((res) => setTimeout(res, 25));
    }
    expect(r.row(id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(dc.requests.filter((q) => q.method === "POST")).toHaveLength(2);
    expect(dc.sentMessages).toHaveLength(1);
  });

  it("WhatsApp 130429 → rate limited, waiting at least base_backoff_ms (no retry-after given), no attempt used", async () => {
    const wa = await whatsapp();
    wa.recordInbound("16505551234");
    const r = rig([waSender(wa)]);
    wa.failNextWithCode(130429, { match: "/messages" });
    const id = r.queue(waTarget(), "burst");
    await r.deliver();
    expect(r.row(id)).toMatchObject({
      status: "retry_scheduled",
      reason: "delivery_rate_limited",
      attempts: 0,
      next_attempt_at_ms: T0 + 1000,
    });
    r.now.ms = T0 + 1000;
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(wa.sentMessages).toHaveLength(1);
  });

  it("5xx is retried with exponential backoff, then dead-lettered after max_attempts; replay re-sends", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)]);
    tg.failNext({ method: "sendMessage", status: 500, count: 3 });
    const id = r.queue(tgTarget(), "are you there");
    await r.deliver();
    expect(r.row(id)).toMatchObject({
      status: "retry_scheduled",
      reason: "delivery_provider_unavailable",
      attempts: 1,
      next_attempt_at_ms: T0 + 500,
    });
    r.now.ms = T0 + 500;
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "retry_scheduled", attempts: 2, next_attempt_at_ms: T0 + 500 + 1000 });
    r.now.ms = T0 + 1500;
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "dead_letter", reason: "delivery_provider_unavailable", attempts: 3, next_attempt_at_ms: 0 });
    expect(r.chunks(id)[0]).toMatchObject({ status: "dead_letter", reason: "delivery_provider_unavailable" });
    expect(JSON.parse(r.chunks(id)[0]!.receipt!)).toEqual({
      state: null,
      at_ms: T0 + 1500,
      last_error: { code: "delivery_provider_unavailable", status: 500, detail: "sendMessage 500: Internal Server Error" },
    });
    expect(r.app.store.counters.all()).toMatchObject({ "deliveries.delivery_provider_unavailable": 3, "deliveries.dead_letter": 1 });
    // The same, kept in memory for the runner's cycle report (which no longer reads every counter twice a cycle).
    const failures = r.delivery.failures();
    expect([...failures.byReason]).toEqual([["delivery_provider_unavailable", 3]]);
    expect(failures.deadLettered).toBe(1);
    r.now.ms = T0 + 10_000_000;
    expect((await r.deliver()).rows).toBe(0);
    expect(tg.callsTo("sendMessage")).toHaveLength(3);

    expect(replayDeadLetters(r.app.store, { limit: 10, now: r.now.ms })).toEqual([id]);
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(tg.sentMessages).toHaveLength(1);
  });

  it("4xx is never retried: 403 blocked → failed/delivery_recipient_blocked, 400 → failed/delivery_request_rejected", async () => {
    const tg = await telegram();
    const dc = await discord();
    const r = rig([tgSender(tg), dcSender(dc)]);
    tg.blockChat(4242);
    tg.forgetChat(-1005555);
    const blocked = r.queue(tgTarget("4242"), "hello?");
    const missing = r.queue(tgTarget("-1005555"), "anyone?");
    dc.forbidChannel(DEFAULT_CHANNEL_ID, 50007);
    const dm = r.queue(dcTarget(), "dm closed");
    await r.deliver();
    expect(r.row(blocked)).toMatchObject({ status: "failed", reason: "delivery_recipient_blocked", attempts: 1, next_attempt_at_ms: 0 });
    expect(r.row(missing)).toMatchObject({ status: "failed", reason: "delivery_request_rejected", attempts: 1 });
    expect(r.row(dm)).toMatchObject({ status: "failed", reason: "delivery_recipient_blocked" });
    r.now.ms = T0 + 3_600_000;
    await r.deliver();
    expect(tg.callsTo("sendMessage")).toHaveLength(2);
    expect(dc.requests.filter((q) => q.method === "POST")).toHaveLength(1);
  });

  it("a missing token is reported with its delivery code and retried later (a secret can be added)", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg, null)]);
    const id = r.queue(tgTarget(), "no token yet");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "retry_scheduled", reason: "delivery_missing_telegram_bot_token", attempts: 1 });
    expect(tg.requests).toHaveLength(0);
  });
});

describe("provider delivery: multi-chunk replies resume at the first unsent chunk", () => {
  it("Telegram: chunk 2 fails → the retry sends chunks 2 and 3; chunk 1 reached the server once", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)], 16);
    const id = r.queue(tgTarget(), "alpha one\n\nbeta two\n\ngamma three");
    expect(r.chunks(id).map((c) => c.body)).toEqual(["alpha one", "beta two", "gamma three"]);
    const first = r.deliver();
    await tg.waitForRequest((q) => q.method === "sendMessage");
    tg.failNext({ method: "sendMessage", status: 502 });
    await first;
    expect(r.chunks(id).map((c) => c.status)).toEqual(["sent", "retry_scheduled", "queued"]);
    expect(r.row(id)).toMatchObject({ status: "retry_scheduled", attempts: 1 });
    r.now.ms = r.row(id).next_attempt_at_ms;
    await r.deliver();
    expect(r.chunks(id).map((c) => c.status)).toEqual(["sent", "sent", "sent"]);
    // (a faulted request is recorded before its body is parsed: read the raw body)
    expect(tg.callsTo("sendMessage").map((q) => (JSON.parse(q.rawBody) as { text: string }).text)).toEqual([
      "alpha one",
      "beta two",
      "beta two",
      "gamma three",
    ]);
    expect(tg.sentMessages.map((m) => m.text)).toEqual(["alpha one", "beta two", "gamma three"]);
    expect(r.chunks(id).map((c) => c.provider_message_id)).toEqual(["-1001234:1", "-1001234:2", "-1001234:3"]);
  });

  it("Discord: a 500 on chunk 2 → resumed at chunk 2 with the same nonce", async () => {
    const dc = await discord();
    const r = rig([dcSender(dc)], 16);
    const id = r.queue(dcTarget(), "alpha one\n\nbeta two\n\ngamma three");
    dc.failNext({ match: (q) => (q.body as { content?: string } | undefined)?.content === "beta two", status: 500 });
    await r.deliver();
    expect(r.chunks(id).map((c) => c.status)).toEqual(["sent", "retry_scheduled", "queued"]);
    r.now.ms = r.row(id).next_attempt_at_ms;
    await r.deliver();
    expect(dc.messagesIn(DEFAULT_CHANNEL_ID).map((m) => m["content"])).toEqual(["alpha one", "beta two", "gamma three"]);
    const posts = dc.requests.filter((q) => q.method === "POST").map((q) => q.body as { content: string; nonce: string });
    expect(posts.map((p) => p.content)).toEqual(["alpha one", "beta two", "beta two", "gamma three"]);
    expect(posts[1]!.nonce).toBe(posts[2]!.nonce);
  });
});

describe("provider delivery: ambiguous sends", () => {
  it("Telegram: a reset after the request was written → unknown, never re-sent automatically", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)]);
    tg.resetNext({ method: "sendMessage" });
    const id = r.queue(tgTarget(), "did it arrive?");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "unknown", reason: "delivery_ambiguous", attempts: 1 });
    expect(r.chunks(id)[0]).toMatchObject({ status: "unknown", reason: "delivery_ambiguous" });
    r.now.ms = T0 + 3_600_000;
    await r.deliver();
    expect(tg.callsTo("sendMessage")).toHaveLength(1);
  });

  it("WhatsApp: a reset after the request was written → unknown, not re-sent", async () => {
    const wa = await whatsapp();
    wa.recordInbound("16505551234");
    const r = rig([waSender(wa)]);
    wa.resetNext({ match: "/messages" });
    const id = r.queue(waTarget(), "did it arrive?");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "unknown", reason: "delivery_ambiguous" });
    r.now.ms = T0 + 3_600_000;
    await r.deliver();
    expect(wa.requests.filter((q) => q.method === "POST")).toHaveLength(1);
  });

  it("Discord: a timed-out POST is re-sent with the same nonce and the server holds one message", async () => {
    const dc = await discord();
    const r = rig([dcSender(dc, 300)]);
    dc.delayNext(900, { match: "POST /channels" });
    const id = r.queue(dcTarget(), "exactly once");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "retry_scheduled", reason: "delivery_ambiguous", attempts: 1 });
    r.now.ms = r.row(id).next_attempt_at_ms;
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "sent", attempts: 2 });
    // Both POSTs (the delayed first one included) have been answered by now or soon; then count.
    await dc.waitUntil(
      () => dc.requests.filter((q) => q.method === "POST" && q.status !== undefined).length === 2,
      5000,
      "both POSTs answered",
    );
    const posts = dc.requests.filter((q) => q.method === "POST").map((q) => (q.body as { nonce: string }).nonce);
    expect(posts).toHaveLength(2);
    expect(posts[0]).toBe(posts[1]);
    expect(dc.messagesIn(DEFAULT_CHANNEL_ID)).toHaveLength(1);
  });

  it("a connection refused before anything was written → delivery_transport_error, retried", async () => {
    const r = rig([
      createTelegramSender({ apiRoot: "http://127.0.0.1:1", token: () => "123456:REFUSED-token_abcdefghijklmnopqrstu", timeoutMs: 2000 }),
    ]);
    const id = r.queue(tgTarget(), "nobody home");
    await r.deliver();
    expect(r.row(id)).toMatchObject({
      status: "retry_scheduled",
      reason: "delivery_transport_error",
      attempts: 1,
      next_attempt_at_ms: T0 + 500,
    });
  });

  it("after a crash mid-send: the in-flight chunk becomes unknown (Telegram) but is simply re-sent (Discord nonce)", async () => {
    const tg = await telegram();
    const dc = await discord();
    const r = rig([tgSender(tg), dcSender(dc)]);
    const t = r.queue(tgTarget(), "was I sent?");
    const d = r.queue(dcTarget(), "was I sent?");
    for (const id of [t, d]) {
      r.app.store.outbox.setRow({ outbox_id: id, status: "sending", reason: null, attempts: 0, next_attempt_at_ms: 0 }, T0);
      r.app.store.outbox.setChunk({ outbox_id: id, idx: 0, status: "sending", reason: null, receipt: null }, T0);
    }
    await r.deliver();
    expect(r.row(t)).toMatchObject({ status: "unknown", reason: "delivery_ambiguous", attempts: 1 });
    expect(tg.requests).toHaveLength(0);
    expect(r.row(d)).toMatchObject({ status: "sent", reason: "delivery_sent" });
    expect(dc.sentMessages).toHaveLength(1);
  });
});

describe("provider delivery: platform specifics", () => {
  it("Telegram group → supergroup migration is followed once and remembered in kv", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)]);
    tg.migrateChat(-4001, -1004001);
    const id = r.queue(tgTarget("-4001"), "after the upgrade");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "sent", attempts: 1 });
    expect(r.chunks(id)[0]!.provider_message_id).toBe("-1004001:1");
    expect(r.app.store.kv.get("telegram:migrated:-4001")).toBe("-1004001");
    expect(tg.callsTo("sendMessage").map((q) => q.params["chat_id"])).toEqual([-4001, -1004001]);
    expect(r.app.store.counters.all()["deliveries.delivery_chat_migrated"]).toBe(1);
    const next = r.queue(tgTarget("-4001"), "straight to the new id");
    await r.deliver();
    expect(r.row(next)).toMatchObject({ status: "sent" });
    expect(tg.callsTo("sendMessage").map((q) => q.params["chat_id"])).toEqual([-4001, -1004001, -1004001]);
  });

  it("migrations are read once per transport, not per chunk: one already known goes straight to the new id; one another process records later costs one refused request", async () => {
    const tg = await telegram();
    const r = rig([tgSender(tg)]);
    // Recorded before this delivery started (an earlier run, another node).
    r.app.store.kv.put("telegram:migrated:-4001", "-1004001");
    tg.migrateChat(-4001, -1004001);
    const first = r.queue(tgTarget("-4001"), "known migration");
    await r.deliver();
    expect(r.row(first)).toMatchObject({ status: "sent" });
    expect(tg.callsTo("sendMessage").map((q) => q.params["chat_id"])).toEqual([-1004001]);
    // Recorded by another process after this one read them: Telegram refuses once, naming the new id — followed.
    tg.migrateChat(-4002, -1004002);
    r.app.store.kv.put("telegram:migrated:-4002", "-1004002");
    const second = r.queue(tgTarget("-4002"), "migrated elsewhere");
    await r.deliver();
    expect(r.row(second)).toMatchObject({ status: "sent", attempts: 1 });
    expect(tg.callsTo("sendMessage").map((q) => q.params["chat_id"])).toEqual([-1004001, -4002, -1004002]);
    const third = r.queue(tgTarget("-4002"), "remembered now");
    await r.deliver();
    expect(
      tg
        .callsTo("sendMessage")
        .map((q) => q.params["chat_id"])
        .at(-1),
    ).toBe(-1004002);
    expect(r.row(third)).toMatchObject({ status: "sent" });
  });

  it("WhatsApp outside the 24 h window (131047) → failed/delivery_window_closed", async () => {
    const wa = await whatsapp();
    const r = rig([waSender(wa)]);
    const id = r.queue(waTarget({ conversation_id: "16505550000" }), "too late");
    await r.deliver();
    expect(r.row(id)).toMatchObject({ status: "failed", reason: "delivery_window_closed", attempts: 1 });
    expect(JSON.parse(r.chunks(id)[0]!.receipt!).last_error.code).toBe("delivery_window_closed");
    expect(wa.sentMessages).toHaveLength(0);
  });
});

describe("tokens never leak", () => {
  it("not in outcomes of network failures, nor anywhere in the database files", async () => {
    const tg = await telegram();
    const wa = await whatsapp();
    const dc = await discord();
    const tgToken = tg.token;
    // A refused connection: node-fetch's error message carries the URL with the token; the outcome must not.
    const refused = createTelegramSender({ apiRoot: "http://127.0.0.1:1", token: () => tgToken, timeoutMs: 2000 });
    const out = await refused.send({ outbox_id: "ob_x", idx: 0, chunk_count: 1, text: "x", target: tgTarget() });
    expect(out).toMatchObject({ ok: false, code: "delivery_transport_error" });
    expect(JSON.stringify(out)).not.toContain(tgToken);
    expect(JSON.stringify(out)).toContain("bot<redacted>");

    const r = rig([refused, waSender(wa), dcSender(dc)]);
    wa.recordInbound("16505551234");
    tg.resetNext({ method: "sendMessage" });
    const ids = [r.queue(tgTarget(), "one"), r.queue(waTarget(), "two"), r.queue(dcTarget(), "three")];
    wa.expireToken(wa.accessToken);
    dc.failNext({ match: "POST", status: 401, body: { message: "401: Unauthorized", code: 0 } });
    await r.deliver();
    expect(ids.map((id) => r.row(id).reason)).toEqual([
      "delivery_transport_error",
      "delivery_request_rejected",
      "delivery_request_rejected",
    ]);
    // Move the WAL into the main file through a second connection, so both files hold everything written.
    const raw = new Database(path.join(r.app.stateDir, "tau.db"));
    raw.pragma("wal_checkpoint(TRUNCATE)");
    raw.close();
    for (const f of ["tau.db", "tau.db-wal"]) {
      const p = path.join(r.app.stateDir, f);
      if (!fs.existsSync(p)) continue;
      const bytes = fs.readFileSync(p);
      for (const secret of [tgToken, wa.accessToken, dc.token])
        expect(bytes.includes(Buffer.from(secret)), `${f} contains a token`).toBe(false);
    }
  });
});

describe("provider delivery: the WAL is on disk before a request (src/store/durability.ts)", () => {
  it("syncs after marking the row `sending` and before sendMessage, once per round", async () => {
    const tg = await telegram();
    const home = makeTauHome(OUTBOUND());
    const app = home.open(() => T0);
    cleanups.push(() => {
      app.close();
      home.cleanup();
    });
    const seen: { status: string; chunk: string; requests: number }[] = [];
    let id = "";
    const provider = createProviderDelivery({
      store: {
        ...app.store,
        syncBeforeEffect: () => {
          const row = app.store.outbox.get(id)!;
          const chunk = app.store.outbox.chunksOf(id).find((c) => c.status !== "sent")!;
          seen.push({ status: row.status, chunk: chunk.status, requests: tg.callsTo("sendMessage").length });
        },
      },
      senders: new Map([["telegram", tgSender(tg)]]),
      retry: app.config.outbound,
      clock: () => T0,
    });
    // Two chunks: two rounds, each synced before its request.
    id = app.store.atomically(
      () =>
        queueReplies(app.store, "test:event:wal", tgTarget(), [{ purpose: "responder", text: "word ".repeat(1200) }], {
          mode: "provider",
          maxChars: 4096,
          now: T0,
        })[0]!,
    );
    await provider.deliver(app.store.outbox.get(id)!, T0);
    expect(seen).toEqual([
      { status: "sending", chunk: "sending", requests: 0 },
      { status: "sending", chunk: "sending", requests: 1 },
    ]);
    expect(tg.callsTo("sendMessage")).toHaveLength(2);
    expect(app.store.outbox.get(id)!.status).toBe("sent");
  });
});
