/**
 * Telegram Business chats (PROVIDERS.md §10.1.6) through the real grammY sender against the local Bot API server:
 * a business conversation (`business:<connection>:<chat>`) is reached only through its connection, so typing
 * (`sendChatAction`) passes `business_connection_id` and the account's chat id, as `sendMessage` does. The server
 * refuses what Telegram refuses: the customer's id without the connection is no chat of the bot, and an unknown
 * connection is "business connection not found".
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const TOKEN = "6112:AAH-tau-test-token_abcdefghijklmno";
const BC = "AAAAAbCdEfGhIjKl-business";
const CUSTOMER = 5550001;

let server: TelegramBotApiServer;
beforeEach(async () => {
  server = await startTelegramBotApiServer({ token: TOKEN, botUser: { username: "tau_ops_bot" } });
});
afterEach(async () => {
  await server.close();
});

const sender = () => createTelegramSender({ apiRoot: server.url, token: () => TOKEN, timeoutMs: 2000 });
const target = (conversation_id: string): ReplyTarget => ({
  transport: "telegram",
  account_id: "6112",
  conversation_id,
  thread_id: null,
  reply_to: null,
});

/** The customer writes to the business account: the update makes the connection and its chat known to the server. */
function customerWrites(): void {
  server.pushUpdate({
    business_message: {
      business_connection_id: BC,
      message_id: 10,
      from: { id: CUSTOMER, is_bot: false, first_name: "Mia" },
      chat: { id: CUSTOMER, type: "private", first_name: "Mia" },
      date: 1763712100,
      text: "do you open on sunday?",
    },
  } as never);
}

describe("typing in a business chat", () => {
  it("sends sendChatAction with business_connection_id and the account's chat id", async () => {
    customerWrites();
    await expect(sender().typing!(target(`business:${BC}:${CUSTOMER}`), "10")).resolves.toEqual({ ok: true });
    const calls = server.callsTo("sendChatAction");
    expect(calls.map((c) => [c.params, c.status])).toEqual([[{ chat_id: CUSTOMER, action: "typing", business_connection_id: BC }, 200]]);
    expect(server.chatActions.map(({ chat_id, action, business_connection_id }) => ({ chat_id, action, business_connection_id }))).toEqual([
      { chat_id: CUSTOMER, action: "typing", business_connection_id: BC },
    ]);
  });

  it("the reply itself goes the same way (sendMessage through the connection)", async () => {
    customerWrites();
    const r = await sender().send({
      outbox_id: "o1",
      idx: 0,
      chunk_count: 1,
      text: "We open at 10.",
      target: target(`business:${BC}:${CUSTOMER}`),
    });
    expect(r).toMatchObject({ ok: true });
    expect(server.sentMessages.map((m) => [m.chat_id, m.text, m.params["business_connection_id"]])).toEqual([
      [CUSTOMER, "We open at 10.", BC],
    ]);
  });

  it("a revoked connection is a rejected request naming the reason, without the token", async () => {
    customerWrites();
    server.pushUpdate({
      business_connection: {
        id: BC,
        user: { id: 8000001, is_bot: false, first_name: "Owner" },
        user_chat_id: 8000001,
        date: 1763712200,
        is_enabled: false,
      },
    } as never);
    const out = await sender().typing!(target(`business:${BC}:${CUSTOMER}`), null);
    expect(out).toEqual({
      ok: false,
      code: "delivery_request_rejected",
      status: 400,
      detail: "sendChatAction 400: Bad Request: business connection not found",
    });
    expect(server.chatActions).toEqual([]);
  });
});

describe("the local Bot API server keeps business chats apart from the bot's chats", () => {
  const call = async (method: string, body: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/bot${TOKEN}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("the customer's id without business_connection_id is no chat of the bot", async () => {
    server.addBusinessConnection(BC, [{ id: CUSTOMER, type: "private", first_name: "Mia" }]);
    expect(await call("sendChatAction", { chat_id: CUSTOMER, action: "typing" })).toEqual({
      status: 400,
      body: { ok: false, error_code: 400, description: "Bad Request: chat not found" },
    });
    expect(await call("sendMessage", { chat_id: CUSTOMER, text: "hi" })).toMatchObject({
      status: 400,
      body: { description: "Bad Request: chat not found" },
    });
    expect(await call("sendChatAction", { chat_id: CUSTOMER, action: "typing", business_connection_id: BC })).toEqual({
      status: 200,
      body: { ok: true, result: true },
    });
  });

  it("an unknown connection is 400 business connection not found", async () => {
    expect(await call("sendChatAction", { chat_id: CUSTOMER, action: "typing", business_connection_id: "nope" })).toEqual({
      status: 400,
      body: { ok: false, error_code: 400, description: "Bad Request: business connection not found" },
    });
    expect(await call("sendMessage", { chat_id: CUSTOMER, text: "hi", business_connection_id: "nope" })).toMatchObject({
      status: 400,
      body: { description: "Bad Request: business connection not found" },
    });
    expect(server.sentMessages).toEqual([]);
  });
});
