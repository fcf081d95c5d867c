/**
 * Telegram tolerance (issue 12 §4) with the real grammY client polling the local Bot API server (which filters
 * updates by the `allowed_updates` tau sends): updates missing fields tau does not use, reactions, business messages.
 * Shapes: the Bot API's own webhook test sample (core.telegram.org/bots/webhooks, no `is_bot`, no `chat.type`) and
 * the Bot API reference objects (MessageReactionUpdated, Message with business_connection_id / sender_business_bot).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setTelegramWebhook } from "../../../connectors/telegram/api.ts";
import { createTelegramConnector, type TelegramConnector } from "../../../connectors/telegram/inbound.ts";
import { normalizeTelegramUpdate } from "../../../connectors/telegram/normalize.ts";
import { buildTelegramSendMessage } from "../../../connectors/telegram/request.ts";
import { makeHarness, waitFor, type Harness } from "../../helpers/connector-harness.ts";
import { TEST_IDENTITY } from "../../helpers/identity.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../../helpers/telegram-bot-api-server.ts";

const TOKEN = "6112:AAH-tau-test-token_abcdefghijklmno";
const BC = "AAAAAbCdEfGhIjKl-business";

let server: TelegramBotApiServer;
let h: Harness;
let c: TelegramConnector;

beforeEach(async () => {
  server = await startTelegramBotApiServer({ token: TOKEN, botUser: { username: "tau_ops_bot" }, firstUpdateId: 5000 });
  h = makeHarness();
  c = createTelegramConnector({
    ...h.deps({ "telegram-bot-token": TOKEN }),
    mode: "polling",
    apiRoot: server.url,
    pollTimeoutS: 2,
    stallMarginMs: 2000,
    backoff: { baseMs: 20, maxMs: 80 },
  });
  await c.start();
  await server.waitForParkedPoll();
});
afterEach(async () => {
  await c.stop();
  await server.close();
  await h.cleanup();
});

/** Push and wait until the connector appended it (or, for ignored updates, until it was taken). */
async function pushed(update: Record<string, unknown>, count: number): Promise<void> {
  expect(server.pushUpdate(update)).toBeTypeOf("number"); // not filtered out by allowed_updates
  await waitFor(() => h.read("telegram").length >= count, 5000, `${count} envelopes`);
}

describe("fields tau does not use are not required", () => {
  it("accepts the Bot API webhook test sample: from without is_bot, chat without type", async () => {
    // core.telegram.org/bots/webhooks, "Testing your bot with updates" (verbatim apart from update_id, set by the server).
    await pushed(
      {
        message: {
          date: 1441645532,
          chat: { last_name: "Test Lastname", id: 1111111, first_name: "Test", username: "Test" },
          message_id: 1365,
          from: { last_name: "Test Lastname", id: 1111111, first_name: "Test", username: "Test" },
          text: "/start",
        },
      },
      1,
    );
    expect(h.read("telegram")[0]).toMatchObject({
      kind: "message",
      chat_type: "dm",
      conversation_id: "1111111",
      actor: { id: "1111111", display: "Test", is_bot: false },
      text: "/start",
    });
  });

  it("refuses only the bad update of a getUpdates batch; the good ones still become envelopes", () => {
    const batch = {
      ok: true,
      result: [
        { update_id: 1, message: { message_id: 1, from: { id: 7 }, chat: { id: 7, type: "private" }, date: 1441645532, text: "a" } },
        { update_id: 2, message: { message_id: 2, from: { id: 7 }, chat: { type: "private" }, date: 1441645532, text: "b" } },
        { update_id: 3, message: { message_id: 3, from: { id: 7 }, chat: { id: 7, type: "private" }, date: 1441645532, text: "c" } },
      ],
    };
    const r = normalizeTelegramUpdate(batch, { identity: TEST_IDENTITY, receivedAtMs: 0 });
    expect(r.ok && r.envelopes.map((e) => e.text)).toEqual(["a", "c"]);
    expect(r.ok && r.refused?.map((x) => [x.code, x.detail])).toEqual([["ingress_missing_id", "result.1.message.chat.id: missing"]]);
  });
});

describe("reactions", () => {
  it("requests message_reaction and records additions and removals as kind reaction", async () => {
    const reaction = (n: number, oldR: unknown[], newR: unknown[]) => ({
      message_reaction: {
        chat: { id: -1001234, type: "supergroup", title: "ops" },
        message_id: 311,
        user: { id: 4242, is_bot: false, first_name: "Ana", username: "ana" },
        date: 1763712000 + n,
        old_reaction: oldR,
        new_reaction: newR,
      },
    });
    await pushed(reaction(1, [], [{ type: "emoji", emoji: "👍" }]), 1);
    await pushed(reaction(2, [{ type: "emoji", emoji: "👍" }], []), 2);
    expect(h.read("telegram").map((e) => [e.kind, e.reply_to, e.actor.id, e.meta.emoji, e.meta.reaction, e.meta.message_id])).toEqual([
      ["reaction", "311", "4242", "👍", "added", 311],
      ["reaction", "311", "4242", "👍", "removed", 311],
    ]);
  });
});

describe("allowed_updates in webhook mode", () => {
  it("setWebhook asks for reactions and business messages too (the default omits message_reaction)", async () => {
    await c.stop();
    await setTelegramWebhook(server.url, TOKEN, "https://tau.example.test/webhooks/telegram", "tau-webhook_secret-0123456789");
    const params = server.callsTo("setWebhook")[0]!.params as { allowed_updates?: string[] };
    expect(params.allowed_updates).toEqual(expect.arrayContaining(["message_reaction", "business_message", "edited_business_message"]));
  });
});

describe("business messages", () => {
  const customer = { id: 5550001, is_bot: false, first_name: "Mia", username: "mia" };
  const businessMessage = (id: number, text: string, extra: Record<string, unknown> = {}) => ({
    business_connection_id: BC,
    message_id: id,
    from: customer,
    chat: { id: 5550001, type: "private", first_name: "Mia", username: "mia" },
    date: 1763712100,
    text,
    ...extra,
  });

  it("keys the conversation by (business connection, chat), drops our own echoes, and answers through the connection", async () => {
    await pushed({ business_message: businessMessage(10, "do you open on sunday?") }, 1);
    // Our own reply, sent for the account, comes back with sender_business_bot: never ingested.
    expect(
      server.pushUpdate({
        business_message: businessMessage(11, "Yes, 10-14.", {
          from: { id: 8000001, is_bot: false, first_name: "Owner" },
          sender_business_bot: { id: 6112, is_bot: true, first_name: "tau", username: "tau_ops_bot" },
        }),
      }),
    ).toBeTypeOf("number");
    await pushed({ edited_business_message: { ...businessMessage(10, "do you open on sunday morning?"), edit_date: 1763712200 } }, 2);
    const envs = h.read("telegram");
    expect(envs.map((e) => [e.kind, e.conversation_id, e.chat_type, e.actor.id, e.text, e.meta.business_connection_id])).toEqual([
      ["message", `business:${BC}:5550001`, "dm", "5550001", "do you open on sunday?", BC],
      ["edit", `business:${BC}:5550001`, "dm", "5550001", "do you open on sunday morning?", BC],
    ]);
    expect(h.logger.codes()).toContain("telegram_business_echo");

    const req = buildTelegramSendMessage(server.url, {
      outbox_id: "o1",
      idx: 0,
      chunk_count: 1,
      text: "We open at 10.",
      target: { transport: "telegram", account_id: "6112", conversation_id: envs[0]!.conversation_id, thread_id: null, reply_to: "10" },
    });
    expect(req.body).toMatchObject({ chat_id: 5550001, business_connection_id: BC, text: "We open at 10." });
    // A button outcome edits the prompt through the same connection (without it Telegram answers "chat not found").
    const edit = buildTelegramSendMessage(server.url, {
      outbox_id: "o2",
      idx: 0,
      chunk_count: 1,
      text: "Approved.",
      target: { transport: "telegram", account_id: "6112", conversation_id: envs[0]!.conversation_id, thread_id: null, reply_to: null },
      action: { kind: "edit_prompt", message_id: "77" },
    });
    expect(edit.url).toMatch(/editMessageText$/);
    expect(edit.body).toMatchObject({ chat_id: 5550001, message_id: 77, business_connection_id: BC });
  });
});
