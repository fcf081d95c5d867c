/** Proves the local Telegram Bot API server works with the real grammY client (PROVIDERS.md §1, §5). */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Bot, GrammyError, HttpError, InputFile, webhookCallback } from "grammy";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwx";

let server: TelegramBotApiServer;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeEach(async () => {
  server = await startTelegramBotApiServer({ token: TOKEN });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await server.close();
});

function newBot(token = TOKEN): Bot {
  const bot = new Bot(token, { client: { apiRoot: server.url } });
  bot.catch(() => undefined);
  cleanups.push(async () => {
    if (bot.isRunning()) await bot.stop().catch(() => undefined);
  });
  return bot;
}

async function grammyError(p: Promise<unknown>): Promise<GrammyError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GrammyError);
  return e as GrammyError;
}

describe("telegram bot api server with grammY", () => {
  it("answers getMe and rejects an unknown token with 401 Unauthorized", async () => {
    const me = await newBot().api.getMe();
    expect(me).toEqual({
      id: 123456,
      is_bot: true,
      first_name: "Tau Test Bot",
      username: "tau_test_bot",
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    });
    const err = await grammyError(newBot("999:wrong").api.getMe());
    expect(err.error_code).toBe(401);
    expect(err.description).toBe("Unauthorized");
    expect(server.requests[0]!.httpMethod).toBe("POST");
    expect(server.requests[0]!.path).toBe(`/bot${TOKEN}/getMe`);
  });

  it("sends messages with increasing message_id and records message_thread_id", async () => {
    const bot = newBot();
    const first = await bot.api.sendMessage(42, "hello");
    expect(first).toMatchObject({
      message_id: 1,
      chat: { id: 42, type: "private", first_name: "User 42" },
      text: "hello",
      from: { id: 123456, is_bot: true },
    });
    const second = await bot.api.sendMessage(-1001234567890, "in topic", { message_thread_id: 7 });
    expect(second).toMatchObject({ message_id: 1, chat: { id: -1001234567890, type: "supergroup" }, message_thread_id: 7 });
    const third = await bot.api.sendMessage(42, "again");
    expect(third.message_id).toBe(2);
    expect(server.sentMessages.map((m) => [m.chat_id, m.message_id, m.text, m.message_thread_id])).toEqual([
      [42, 1, "hello", undefined],
      [-1001234567890, 1, "in topic", 7],
      [42, 2, "again", undefined],
    ]);
    expect(server.callsTo("sendMessage")[0]!.headers["content-type"]).toBe("application/json");
  });

  it("counts the 4096 limit in code points and rejects empty text", async () => {
    const bot = newBot();
    await expect(bot.api.sendMessage(42, "😀".repeat(4096))).resolves.toMatchObject({ message_id: 1 });
    const long = await grammyError(bot.api.sendMessage(42, "😀".repeat(4097)));
    expect([long.error_code, long.description]).toEqual([400, "Bad Request: message is too long"]);
    const empty = await grammyError(bot.api.sendMessage(42, "   "));
    expect([empty.error_code, empty.description]).toEqual([400, "Bad Request: message text is empty"]);
    const markup = await grammyError(bot.api.sendMessage(42, "Price 1.5", { parse_mode: "MarkdownV2" }));
    expect(markup.description).toBe(
      "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
    );
    const html = await bot.api.sendMessage(42, "<b>bold</b> &amp; plain", { parse_mode: "HTML" });
    expect([html.text, html.entities]).toEqual(["bold & plain", [{ type: "bold", offset: 0, length: 4 }]]);
  });

  it("surfaces 400 migration, 403 blocked and 429 flood errors as GrammyError", async () => {
    const bot = newBot();
    server.migrateChat(-4001, -1009876543210);
    const migrated = await grammyError(bot.api.sendMessage(-4001, "hi"));
    expect(migrated.error_code).toBe(400);
    expect(migrated.description).toBe("Bad Request: group chat was upgraded to a supergroup chat");
    expect(migrated.parameters).toEqual({ migrate_to_chat_id: -1009876543210 });

    server.blockChat(77);
    const blocked = await grammyError(bot.api.sendMessage(77, "hi"));
    expect([blocked.error_code, blocked.description]).toEqual([403, "Forbidden: bot was blocked by the user"]);

    server.forgetChat(78);
    const missing = await grammyError(bot.api.sendMessage(78, "hi"));
    expect([missing.error_code, missing.description]).toEqual([400, "Bad Request: chat not found"]);

    server.rateLimitNext(7, { method: "sendMessage" });
    const flood = await grammyError(bot.api.sendMessage(42, "hi"));
    expect(flood.error_code).toBe(429);
    expect(flood.description).toBe("Too Many Requests: retry after 7");
    expect(flood.parameters).toEqual({ retry_after: 7 });
    expect(server.callsTo("sendMessage").at(-1)!.response).toEqual({
      ok: false,
      error_code: 429,
      description: "Too Many Requests: retry after 7",
      parameters: { retry_after: 7 },
    });
    await expect(bot.api.sendMessage(42, "after flood")).resolves.toMatchObject({ text: "after flood" });
  });

  it("turns resetNext into an HttpError and accepts case-insensitive urlencoded calls", async () => {
    const bot = newBot();
    server.resetNext({ method: "getMe" });
    await expect(bot.api.getMe()).rejects.toBeInstanceOf(HttpError);
    const r = await fetch(`${server.url}/bot${TOKEN}/SENDMESSAGE`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "chat_id=42&text=form+body",
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, result: { text: "form body", chat: { id: 42 } } });
    const viaGet = await fetch(`${server.url}/bot${TOKEN}/sendmessage?chat_id=42&text=query+string`);
    expect(await viaGet.json()).toMatchObject({ ok: true, result: { message_id: 2, text: "query string" } });
    const unknown = await fetch(`${server.url}/bot${TOKEN}/noSuchMethod`, { method: "POST" });
    expect([unknown.status, await unknown.json()]).toEqual([404, { ok: false, error_code: 404, description: "Not Found" }]);
  });

  it("delivers a pushed update to bot.start() polling and confirms the offset on bot.stop()", async () => {
    const bot = newBot();
    const seen: string[] = [];
    bot.on("message:text", async (ctx) => {
      seen.push(ctx.message.text);
      await ctx.reply(`echo: ${ctx.message.text}`);
    });
    const running = bot.start({ timeout: 30 });
    await server.waitForParkedPoll();
    const id = server.pushUpdate({
      message: {
        message_id: 5,
        from: { id: 42, is_bot: false, first_name: "Ada" },
        chat: { id: 42, type: "private", first_name: "Ada" },
        date: 1_700_000_000,
        text: "ping",
      },
    });
    expect(id).toBe(1000);
    await server.waitUntil(() => server.sentMessages.length === 1);
    expect(seen).toEqual(["ping"]);
    expect(server.sentMessages[0]).toMatchObject({ chat_id: 42, message_id: 6, text: "echo: ping" });
    await bot.stop();
    await running;
    const calls = server.callsTo("getUpdates");
    expect(calls[0]!.params).toEqual({ offset: 1, timeout: 30, allowed_updates: [] });
    expect(calls.at(-1)!.params).toEqual({ offset: 1001, limit: 1 });
    expect(server.pendingUpdates()).toEqual([]);
    expect(await newBot().api.getUpdates({ offset: 0, timeout: 0 })).toEqual([]);
  });

  it("keeps an unconfirmed update and redelivers it to the next getUpdates", async () => {
    server.pushUpdate({ message: { message_id: 1, chat: { id: 42, type: "private", first_name: "Ada" }, date: 1_700_000_000, text: "a" } });
    const bot = newBot();
    const first = await bot.api.getUpdates({ offset: 0 });
    const again = await bot.api.getUpdates({ offset: 0 });
    expect(first.map((u) => u.update_id)).toEqual([1000]);
    expect(again.map((u) => u.update_id)).toEqual([1000]);
    expect(await bot.api.getUpdates({ offset: 1001 })).toEqual([]);
    expect(server.pendingUpdates()).toEqual([]);
  });

  it("ends the older parked poll with 409 when a second poller starts", async () => {
    const first = newBot();
    const firstRun = first.start({ timeout: 30 }).then(
      () => "resolved",
      (e: unknown) => e,
    );
    await server.waitForParkedPoll();
    const second = newBot();
    void second.start({ timeout: 30 });
    const err = await firstRun;
    expect(err).toBeInstanceOf(GrammyError);
    expect((err as GrammyError).error_code).toBe(409);
    expect((err as GrammyError).description).toBe(
      "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
    await server.waitForParkedPoll();
    await second.stop();
  });

  it("refuses getUpdates with 409 while a webhook is set and validates secret_token", async () => {
    const bot = newBot();
    const bad = await grammyError(bot.api.setWebhook("http://127.0.0.1:9/hook", { secret_token: "has space" }));
    expect([bad.error_code, bad.description]).toEqual([400, "Bad Request: secret token contains unallowed characters"]);
    expect(await bot.api.setWebhook("http://127.0.0.1:9/hook", { secret_token: "s3cr3t_-X" })).toBe(true);
    expect(server.webhook()).toMatchObject({ url: "http://127.0.0.1:9/hook", secret_token: "s3cr3t_-X", max_connections: 40 });
    const conflict = await grammyError(bot.api.getUpdates());
    expect(conflict.error_code).toBe(409);
    expect(conflict.description).toBe(
      "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );
    expect(await bot.api.deleteWebhook()).toBe(true);
    expect(server.callsTo("deleteWebhook")[0]!.response).toEqual({ ok: true, result: true, description: "Webhook was deleted" });
    expect(await bot.api.getWebhookInfo()).toEqual({ url: "", has_custom_certificate: false, pending_update_count: 0 });
  });

  it("delivers updates to a grammY webhook with the secret token header", async () => {
    const bot = new Bot(TOKEN, { client: { apiRoot: server.url } });
    const texts: string[] = [];
    bot.on("message:text", (ctx) => {
      texts.push(ctx.message.text);
    });
    const hook = http.createServer(webhookCallback(bot, "http", { secretToken: "s3cr3t" }));
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          hook.closeAllConnections();
          hook.close(() => r());
        }),
    );
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/tg`;

    await bot.api.setWebhook(hookUrl, { secret_token: "wrong" });
    server.pushUpdate({
      message: { message_id: 1, chat: { id: 42, type: "private", first_name: "Ada" }, date: 1_700_000_000, text: "first" },
    });
    await server.waitUntil(() => server.webhookDeliveries.length >= 1);
    expect(server.webhookDeliveries[0]).toMatchObject({ update_id: 1000, status: 401, secretHeader: "wrong" });
    expect((await bot.api.getWebhookInfo()).last_error_message).toBe("Wrong response from the webhook: 401 Unauthorized");

    await bot.api.setWebhook(hookUrl, { secret_token: "s3cr3t" });
    await server.waitUntil(() => server.webhookDeliveries.find((d) => d.status === 200));
    expect(texts).toEqual(["first"]);
    expect(server.pendingUpdates()).toEqual([]);
  });

  it("serves getFile and the /file/bot<token>/<path> download, including multipart uploads", async () => {
    const bot = newBot();
    const stored = server.addFile({ content: "hello file", file_path: "documents/hello.txt" });
    const file = await bot.api.getFile(stored.file_id);
    expect(file).toEqual({
      file_id: stored.file_id,
      file_unique_id: stored.file_unique_id,
      file_size: 10,
      file_path: "documents/hello.txt",
    });
    const dl = await fetch(`${server.url}/file/bot${TOKEN}/${file.file_path}`);
    expect([dl.status, await dl.text()]).toEqual([200, "hello file"]);
    const missing = await grammyError(bot.api.getFile("nope"));
    expect(missing.description).toBe("Bad Request: invalid file_id");

    const sent = await bot.api.sendDocument(42, new InputFile(Buffer.from("report body"), "report.txt"), { caption: "the report" });
    expect(sent.document).toMatchObject({ file_name: "report.txt", file_size: 11 });
    expect(sent.caption).toBe("the report");
    expect(server.callsTo("sendDocument")[0]!.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const uploaded = await bot.api.getFile(sent.document.file_id);
    const body = await fetch(`${server.url}/file/bot${TOKEN}/${uploaded.file_path}`);
    expect(await body.text()).toBe("report body");
  });

  it("answers known callback queries and rejects unknown or expired ones", async () => {
    const bot = newBot();
    server.pushUpdate({
      callback_query: { id: "cbq-1", from: { id: 42, is_bot: false, first_name: "Ada" }, chat_instance: "ci", data: "approve" },
    });
    expect(await bot.api.answerCallbackQuery("cbq-1", { text: "done" })).toBe(true);
    expect(server.callbackAnswers).toEqual([{ callback_query_id: "cbq-1", text: "done" }]);
    server.expireCallbackQuery("cbq-1");
    const late = await grammyError(bot.api.answerCallbackQuery("cbq-1"));
    expect(late.description).toBe("Bad Request: query is too old and response timeout expired or query ID is invalid");
  });

  it("edits sent messages and reports unchanged edits", async () => {
    const bot = newBot();
    const m = await bot.api.sendMessage(42, "v1");
    const edited = await bot.api.editMessageText(42, m.message_id, "v2");
    expect(edited).toMatchObject({ message_id: 1, text: "v2" });
    const same = await grammyError(bot.api.editMessageText(42, m.message_id, "v2"));
    expect(same.description).toBe(
      "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
    );
    const gone = await grammyError(bot.api.editMessageText(42, 99, "x"));
    expect(gone.description).toBe("Bad Request: message to edit not found");
  });
});
