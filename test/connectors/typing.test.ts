/**
 * @module Typing indicators (PROVIDERS.md §9.6) through the `ProviderSender.typing` port, with the REAL clients
 * (grammY, @discordjs/rest, axios) against the local provider servers: the exact request each one makes, the
 * outcome of a success, and failures mapped to delivery codes with no token in `detail`. Also the lazy senders
 * of src/app/provider-senders.ts, which pass `typing` through for chat transports and leave it off email.
 */
import { afterEach, describe, expect, it } from "vitest";
import { TYPING_REFRESH_MS, type ProviderSender, type TypingOutcome } from "../../src/contracts/delivery.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { TauConfigSchema } from "../../src/config/index.ts";
import { createProviderSenders } from "../../src/app/provider-senders.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { createDiscordSender } from "../../connectors/discord/sender.ts";
import { createWhatsAppSender } from "../../connectors/whatsapp/sender.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { DEFAULT_CHANNEL_ID, startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { graphError, startWhatsAppGraphServer, type WhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function telegram(opts: Parameters<typeof startTelegramBotApiServer>[0] = {}): Promise<TelegramBotApiServer> {
  const s = await startTelegramBotApiServer(opts);
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

const target = (transport: ReplyTarget["transport"], conversation_id: string, extra: Partial<ReplyTarget> = {}): ReplyTarget => ({
  transport,
  account_id: "",
  conversation_id,
  thread_id: null,
  reply_to: null,
  ...extra,
});

/** A failed outcome whose detail never shows the token. */
function expectFailure(outcome: TypingOutcome, expected: Partial<Extract<TypingOutcome, { ok: false }>>, token: string) {
  expect(outcome).toMatchObject({ ok: false, ...expected });
  if (outcome.ok) return;
  expect(outcome.detail).not.toContain(token);
  expect(Object.keys(outcome).sort()).toEqual(["code", "detail", "ok", "status"]);
}

describe("TYPING_REFRESH_MS", () => {
  it("re-sends Telegram every 4 s, Discord every 8 s, and WhatsApp once", () => {
    expect(TYPING_REFRESH_MS).toEqual({ telegram: 4000, discord: 8000, whatsapp: null });
  });
});

describe("Telegram typing: sendChatAction", () => {
  const sender = (s: TelegramBotApiServer, token: string | null = s.token) =>
    createTelegramSender({ apiRoot: s.url, token: () => token, timeoutMs: 2000 });

  it("sends action typing to the chat and answers ok", async () => {
    const s = await telegram();
    await expect(sender(s).typing!(target("telegram", "-1001234567890"), "55")).resolves.toEqual({ ok: true });
    const calls = s.callsTo("sendChatAction");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.params).toEqual({ chat_id: -1001234567890, action: "typing" });
    expect(calls[0]!.status).toBe(200);
    expect(s.chatActions).toEqual([{ chat_id: -1001234567890, action: "typing", params: { chat_id: -1001234567890, action: "typing" } }]);
  });

  it("passes the forum topic as message_thread_id", async () => {
    const s = await telegram();
    s.addForumTopic(-1009876543210, 7);
    await expect(sender(s).typing!(target("telegram", "-1009876543210", { thread_id: "7" }), null)).resolves.toEqual({ ok: true });
    expect(s.callsTo("sendChatAction")[0]!.params).toEqual({ chat_id: -1009876543210, action: "typing", message_thread_id: 7 });
    expect(s.chatActions.map(({ chat_id, action, message_thread_id }) => ({ chat_id, action, message_thread_id }))).toEqual([
      { chat_id: -1009876543210, action: "typing", message_thread_id: 7 },
    ]);
  });

  it("maps an unknown chat (400 chat not found) and an unknown topic to delivery_request_rejected", async () => {
    const s = await telegram({ strictChats: true });
    expectFailure(
      await sender(s).typing!(target("telegram", "424242"), null),
      { code: "delivery_request_rejected", status: 400, detail: "sendChatAction 400: Bad Request: chat not found" },
      s.token,
    );
    s.addForumTopic(-1005555, 3);
    expectFailure(
      await sender(s).typing!(target("telegram", "-1005555", { thread_id: "4" }), null),
      { code: "delivery_request_rejected", status: 400, detail: "sendChatAction 400: Bad Request: message thread not found" },
      s.token,
    );
    expect(s.chatActions).toEqual([]);
  });

  it("maps 401 (wrong token) and 403 (blocked) without the token in detail", async () => {
    const s = await telegram();
    const wrong = "654321:WRONG-token_abcdefghijklmnopqrstuv";
    expectFailure(
      await sender(s, wrong).typing!(target("telegram", "1001"), null),
      { code: "delivery_request_rejected", status: 401, detail: "sendChatAction 401: Unauthorized" },
      wrong,
    );
    s.blockChat(1002);
    expectFailure(
      await sender(s).typing!(target("telegram", "1002"), null),
      { code: "delivery_recipient_blocked", status: 403, detail: "sendChatAction 403: Forbidden: bot was blocked by the user" },
      s.token,
    );
  });

  it("maps a 429 to delivery_rate_limited and makes no call without a token", async () => {
    const s = await telegram();
    s.rateLimitNext(3, { method: "sendChatAction" });
    expectFailure(await sender(s).typing!(target("telegram", "1003"), null), { code: "delivery_rate_limited", status: 429 }, s.token);
    const before = s.requests.length;
    await expect(sender(s, null).typing!(target("telegram", "1003"), null)).resolves.toEqual({
      ok: false,
      code: "delivery_missing_telegram_bot_token",
      status: null,
      detail: "the Telegram bot token (TAU_TELEGRAM_BOT_TOKEN or secret telegram-bot-token) is not configured",
    });
    expect(s.requests.length).toBe(before);
  });

  it("redacts the token from the URL of a network failure", async () => {
    const s = await telegram();
    s.resetNext({ method: "sendChatAction" });
    const outcome = await sender(s).typing!(target("telegram", "1006"), null);
    expectFailure(outcome, { code: "delivery_ambiguous", status: null }, s.token);
    expect(outcome.ok || outcome.detail).toContain("/bot<redacted>/sendChatAction");
  });

  it("the fake refuses an action outside the documented set, like the Bot API", async () => {
    const s = await telegram();
    const r = await fetch(`${s.url}/bot${s.token}/sendChatAction`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ chat_id: 1004, action: "dancing" }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ ok: false, error_code: 400, description: "Bad Request: wrong parameter action in request" });
    expect(s.chatActions).toEqual([]);
  });
});

describe("Discord typing: POST /channels/{id}/typing", () => {
  const sender = (s: DiscordServer, token: string | null = s.token) =>
    createDiscordSender({ apiRoot: `${s.url}/api`, token: () => token, timeoutMs: 2000 });

  it("posts to the channel with the bot token and treats 204 as ok", async () => {
    const s = await discord();
    await expect(sender(s).typing!(target("discord", DEFAULT_CHANNEL_ID), "1300000000000000099")).resolves.toEqual({ ok: true });
    const calls = s.requests.filter((r) => r.path.endsWith("/typing"));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: "POST", path: `/channels/${DEFAULT_CHANNEL_ID}/typing`, rawBody: "", status: 204 });
    expect(calls[0]!.headers["authorization"]).toBe(`Bot ${s.token}`);
    expect(calls[0]!.responseHeaders).toMatchObject({ "x-ratelimit-limit": "50", "x-ratelimit-remaining": "49" });
    expect(s.typingCalls.map((t) => t.channelId)).toEqual([DEFAULT_CHANNEL_ID]);
    expect(s.sentMessages).toEqual([]);
  });

  it("types in the thread when the reply goes to one", async () => {
    const s = await discord();
    const thread = s.addChannel({ id: "1100000000000000777", type: 11, parent_id: DEFAULT_CHANNEL_ID });
    await expect(sender(s).typing!(target("discord", DEFAULT_CHANNEL_ID, { thread_id: String(thread["id"]) }), null)).resolves.toEqual({
      ok: true,
    });
    expect(s.typingCalls.map((t) => t.channelId)).toEqual(["1100000000000000777"]);
  });

  it("maps 401 (wrong token) and 403 (missing permissions) without the token in detail", async () => {
    const s = await discord();
    const wrong = "MTMwMDAwMDAwMDAwMDAwMDAwMg.WrOnG1.not-the-discord-token";
    expectFailure(
      await sender(s, wrong).typing!(target("discord", DEFAULT_CHANNEL_ID), null),
      { code: "delivery_request_rejected", status: 401 },
      wrong,
    );
    s.forbidChannel(DEFAULT_CHANNEL_ID, 50013);
    expectFailure(
      await sender(s).typing!(target("discord", DEFAULT_CHANNEL_ID), null),
      { code: "delivery_request_rejected", status: 403, detail: "POST 403 50013: Missing Permissions" },
      s.token,
    );
    expect(s.typingCalls).toEqual([]);
  });

  it("maps a 429 to delivery_rate_limited and makes no call without a token", async () => {
    const s = await discord();
    s.rateLimitNext({ match: "/typing", retryAfter: 1.5 });
    expectFailure(
      await sender(s).typing!(target("discord", DEFAULT_CHANNEL_ID), null),
      { code: "delivery_rate_limited", status: 429 },
      s.token,
    );
    const before = s.requests.length;
    await expect(sender(s, null).typing!(target("discord", DEFAULT_CHANNEL_ID), null)).resolves.toMatchObject({
      ok: false,
      code: "delivery_missing_discord_bot_token",
      status: null,
    });
    expect(s.requests.length).toBe(before);
  });
});

describe("WhatsApp typing: mark read + typing_indicator", () => {
  const WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDQzQ0";
  const sender = (s: WhatsAppGraphServer, token: string | null = s.accessToken, phoneNumberId: string | null = null) =>
    createWhatsAppSender({ apiRoot: `${s.url}/v23.0`, token: () => token, phoneNumberId: () => phoneNumberId, timeoutMs: 2000 });
  const waTarget = (s: WhatsAppGraphServer, account_id = s.phoneNumberId) => target("whatsapp", "16505551234", { account_id });

  it("posts exactly the read + typing body for the inbound wamid and answers ok", async () => {
    const s = await whatsapp();
    await expect(sender(s).typing!(waTarget(s), WAMID)).resolves.toEqual({ ok: true });
    expect(s.requests).toHaveLength(1);
    const r = s.requests[0]!;
    expect(r).toMatchObject({
      method: "POST",
      version: "v23.0",
      path: `/${s.phoneNumberId}/messages`,
      status: 200,
      response: { success: true },
    });
    expect(r.headers["authorization"]).toBe(`Bearer ${s.accessToken}`);
    expect(JSON.parse(r.rawBody)).toEqual({
      messaging_product: "whatsapp",
      status: "read",
      message_id: WAMID,
      typing_indicator: { type: "text" },
    });
    expect(s.typingIndicators()).toEqual([{ phoneNumberId: s.phoneNumberId, message_id: WAMID, typing_indicator: { type: "text" } }]);
    expect(s.sentMessages).toEqual([]);
  });

  it("uses the configured phone number id when the target has none", async () => {
    const s = await whatsapp();
    await expect(sender(s, s.accessToken, s.phoneNumberId).typing!(waTarget(s, ""), WAMID)).resolves.toEqual({ ok: true });
    expect(s.typingIndicators()).toHaveLength(1);
  });

  it("makes no call without an inbound message id", async () => {
    const s = await whatsapp();
    await expect(sender(s).typing!(waTarget(s), null)).resolves.toEqual({
      ok: false,
      code: "delivery_request_rejected",
      status: null,
      detail: "no inbound message id",
    });
    expect(s.requests).toEqual([]);
  });

  it("maps 401 (expired token) and 403 (no permission) without the token in detail", async () => {
    const s = await whatsapp();
    s.expireToken(s.accessToken);
    expectFailure(await sender(s).typing!(waTarget(s), WAMID), { code: "delivery_request_rejected", status: 401 }, s.accessToken);

    const t = await whatsapp();
    const denied = graphError(10, {
      status: 403,
      message: `(#10) Application does not have permission for this action (token ${t.accessToken})`,
    });
    t.failNext({ match: "/messages", status: denied.status, body: denied.body });
    const outcome = await sender(t).typing!(waTarget(t), WAMID);
    expectFailure(outcome, { code: "delivery_request_rejected", status: 403 }, t.accessToken);
    expect(outcome.ok || outcome.detail).toContain("(token <redacted>)");
    expect(t.typingIndicators()).toEqual([]);
  });

  it("maps rate limits and makes no call without a token", async () => {
    const s = await whatsapp();
    s.failNextWithCode(131056, { match: "/messages" });
    expectFailure(await sender(s).typing!(waTarget(s), WAMID), { code: "delivery_rate_limited", status: 400 }, s.accessToken);
    const before = s.requests.length;
    await expect(sender(s, null).typing!(waTarget(s), WAMID)).resolves.toMatchObject({
      ok: false,
      code: "delivery_missing_whatsapp_access_token",
      status: null,
    });
    expect(s.requests.length).toBe(before);
  });

  it("the fake refuses a read without message_id or messaging_product", async () => {
    const s = await whatsapp();
    const post = (body: Record<string, unknown>) =>
      fetch(`${s.url}/v23.0/${s.phoneNumberId}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.accessToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const noId = await post({ messaging_product: "whatsapp", status: "read", typing_indicator: { type: "text" } });
    expect(noId.status).toBe(400);
    expect(((await noId.json()) as { error: unknown }).error).toMatchObject({
      code: 100,
      message: "(#100) The parameter message_id is required.",
    });
    const noProduct = await post({ status: "read", message_id: WAMID, typing_indicator: { type: "text" } });
    expect(((await noProduct.json()) as { error: unknown }).error).toMatchObject({ code: 100 });
    expect(s.readReceipts).toEqual([]);
  });
});

describe("lazy provider senders (src/app/provider-senders.ts)", () => {
  it("pass typing through for Telegram, Discord and WhatsApp, loading the real sender on first use; email has none", async () => {
    const tg = await telegram();
    const dc = await discord();
    const wa = await whatsapp();
    const config = TauConfigSchema.parse({
      schema_version: 1,
      connectors: { telegram: { api_root: tg.url }, discord: { api_root: `${dc.url}/api` }, whatsapp: { api_root: `${wa.url}/v23.0` } },
      identity: { whatsapp: { phone_number_id: wa.phoneNumberId } },
    });
    const secrets: Record<string, string> = {
      "telegram-bot-token": tg.token,
      "discord-bot-token": dc.token,
      "whatsapp-access-token": wa.accessToken,
    };
    const senders = createProviderSenders(config, (id) => secrets[id] ?? null);
    const typing = (t: ReplyTarget["transport"]) => (senders.get(t) as ProviderSender).typing;

    expect(typing("email")).toBeUndefined();
    await expect(typing("telegram")!(target("telegram", "1005"), null)).resolves.toEqual({ ok: true });
    await expect(typing("discord")!(target("discord", DEFAULT_CHANNEL_ID), null)).resolves.toEqual({ ok: true });
    await expect(typing("whatsapp")!(target("whatsapp", "16505551234"), "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDQzQ0")).resolves.toEqual({
      ok: true,
    });
    expect(tg.chatActions.map((a) => a.chat_id)).toEqual([1005]);
    expect(dc.typingCalls.map((c) => c.channelId)).toEqual([DEFAULT_CHANNEL_ID]);
    expect(wa.typingIndicators().map((r) => r.phoneNumberId)).toEqual([wa.phoneNumberId]);
  });
});
