/** Local Telegram Bot API server (node:http on 127.0.0.1) for the real grammY client; wire behaviour from PROVIDERS.md §1 and §5. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { closeAfterAnswer, FaultQueue, htmlErrorPage, resetMidBody, sendRaw, type PlannedFault } from "./http-faults.ts";
import {
  ApiError,
  bad,
  parseMultipart,
  Waiters,
  type Json,
  type TelegramChat,
  type TelegramFault,
  type TelegramFaultMatch,
  type TelegramRecordedRequest,
  type TelegramServerOptions,
  type TelegramUpdate,
  type TelegramUser,
} from "./telegram-bot-api-server-common.ts";
import { TelegramChats } from "./telegram-bot-api-server-chats.ts";
import { TelegramUpdates } from "./telegram-bot-api-server-updates.ts";
import { TelegramCommandMenus } from "./telegram-bot-api-server-commands.ts";
import type { TelegramRateLimits } from "./rate-limits.ts";

export type * from "./telegram-bot-api-server-common.ts";
export type { PlannedFault } from "./http-faults.ts";
export type { TelegramChatAction } from "./telegram-bot-api-server-chats.ts";

/**
 * Routes (§1.1, §1.8): `GET|POST /bot<token>/<method>` (JSON, urlencoded, multipart or query string; methods case-insensitive;
 * grammY's `/bot<token>/test/<method>` accepted too) and `GET /file/bot<token>/<file_path>`. Responses are `{ok:true,result}` or
 * `{ok:false,error_code,description,parameters?}`; an unknown token gets 401 "Unauthorized", an unknown method 404 "Not Found".
 */
export async function startTelegramBotApiServer(
  options: TelegramServerOptions & {
    /** Flood limits enforced on sends (test/helpers/rate-limits.ts); off when absent. */
    rateLimits?: TelegramRateLimits;
  } = {},
) {
  const token = options.token ?? "123456:TEST-token_abcdefghijklmnopqrstuvwx";
  const botUser: TelegramUser = {
    id: Number(token.split(":")[0]) || 123456,
    is_bot: true,
    first_name: "Tau Test Bot",
    username: "tau_test_bot",
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    ...options.botUser,
  };
  let timeOffset = 0;
  const now = options.now ?? (() => Date.now() + timeOffset);
  const requests: TelegramRecordedRequest[] = [];
  const commands: Json[] = [];
  const menus = new TelegramCommandMenus();
  const waiters = new Waiters();
  const changed = waiters.changed;

  function reply(
    res: http.ServerResponse,
    rec: TelegramRecordedRequest | null,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    if (rec) {
      rec.status = status;
      rec.response = body;
    }
    if (dropping.has(res)) {
      // Processed, but the answer never leaves: the client cannot tell whether the message was sent.
      res.socket?.destroy();
    } else if (!res.writableEnded && !res.destroyed) {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    }
    changed();
  }

  const chats = new TelegramChats(botUser, now, options.strictChats ?? false);
  for (const c of options.chats ?? []) chats.addChat(c);
  const updates = new TelegramUpdates({
    now,
    changed,
    reply,
    maxLongPollSeconds: options.maxLongPollSeconds ?? 50,
    allowHttpWebhook: options.allowHttpWebhook ?? true,
    webhookRetryDelayMs: options.webhookRetryDelayMs ?? 100,
    webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
    firstUpdateId: options.firstUpdateId ?? 1000,
  });

  // ---- fault injection (matched by API method, case-insensitive; no method = next request of any kind)
  const faults = new FaultQueue<string, TelegramRecordedRequest>(
    (method, rec) => method === undefined || (rec.method !== null && rec.method.toLowerCase() === method),
  );
  const faultMatch = (m: TelegramFaultMatch) => ({ remaining: m.count ?? 1, ...(m.method ? { match: m.method.toLowerCase() } : {}) });
  /** Responses whose request was processed but whose connection is closed instead of answered ("drop"). */
  const dropping = new WeakSet<http.ServerResponse>();

  async function readParams(req: http.IncomingMessage, raw: Buffer, url: URL) {
    const params: Json = Object.fromEntries(url.searchParams);
    const files: TelegramRecordedRequest["files"] = {};
    const ct = (req.headers["content-type"] ?? "").toLowerCase();
    if (raw.length === 0) return { params, files };
    if (ct.startsWith("application/json")) {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        throw bad("can't parse JSON encoded request body");
      }
      if (body && typeof body === "object" && !Array.isArray(body)) Object.assign(params, body);
    } else if (ct.startsWith("application/x-www-form-urlencoded")) {
      Object.assign(params, Object.fromEntries(new URLSearchParams(raw.toString("utf8"))));
    } else if (ct.startsWith("multipart/form-data")) {
      for (const part of parseMultipart(raw, req.headers["content-type"]!)) {
        if (part.filename === undefined) params[part.name] = part.data.toString("utf8");
        else files[part.name] = { filename: part.filename, contentType: part.contentType, data: part.data };
      }
    }
    return { params, files };
  }

  function handleApi(
    method: string,
    p: Json,
    upload: TelegramRecordedRequest["files"],
    res: http.ServerResponse,
    rec: TelegramRecordedRequest,
  ) {
    const ok = (result: unknown, extra: Json = {}) => reply(res, rec, 200, { ok: true, result, ...extra });
    switch (method.toLowerCase()) {
      case "getme":
        return ok(botUser);
      case "logout":
      case "close":
        return ok(true);
      case "setwebhook":
        return ok(true, { description: updates.setWebhook(p) });
      case "deletewebhook":
        return ok(true, { description: updates.deleteWebhook(p) });
      case "getwebhookinfo":
        return ok(updates.getWebhookInfo());
      case "getupdates": {
        const r = updates.getUpdates(p, res, rec);
        if (r !== "parked") ok(r);
        return;
      }
      case "sendmessage":
        return ok(chats.sendMessage(p));
      case "sendphoto":
        return ok(chats.sendMedia("sendPhoto", p, upload));
      case "senddocument":
        return ok(chats.sendMedia("sendDocument", p, upload));
      case "editmessagetext":
        return ok(chats.editMessageText(p));
      case "editmessagereplymarkup":
        return ok(chats.editMessageReplyMarkup(p));
      case "deletemessage":
        return ok(chats.deleteMessage(p));
      case "sendchataction":
        return ok(chats.sendChatAction(p));
      case "getchat":
        return ok({ ...chats.resolve(p["chat_id"]), accent_color_id: 0, max_reaction_count: 11 });
      case "answercallbackquery":
        return ok(chats.answerCallbackQuery(p));
      case "getfile":
        return ok(chats.getFile(p));
      case "setmycommands":
      case "getmycommands":
      case "deletemycommands":
        if (method.toLowerCase() !== "getmycommands") commands.push({ method, ...p });
        return ok(menus.handle(method, p));
      default:
        return reply(res, rec, 404, { ok: false, error_code: 404, description: "Not Found" });
    }
  }

  /** The recorded request before its parameters are parsed. */
  function recordOf(req: http.IncomingMessage, raw: Buffer): TelegramRecordedRequest {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const api = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z0-9_]+)\/?$/.exec(url.pathname);
    const file = /^\/file\/bot([^/]+)\/(?:test\/)?(.+)$/.exec(url.pathname);
    return {
      httpMethod: req.method ?? "GET",
      path: url.pathname,
      token: api?.[1] ?? file?.[1] ?? null,
      method: api?.[2] ?? null,
      params: {},
      files: {},
      headers: req.headers,
      rawBody: raw.toString("utf8"),
      at: now(),
    };
  }

  const server = http.createServer((req, res) => {
    const early = faults.takeEarly(recordOf(req, Buffer.alloc(0)));
    if (early) {
      resetMidBody(req, (received) => {
        requests.push({ ...recordOf(req, received), status: 0, fault: "reset_mid_body" });
        changed();
      });
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void handle(req, res, Buffer.concat(chunks));
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const api = /^\/bot([^/]+)\/(?:test\/)?([A-Za-z0-9_]+)\/?$/.exec(url.pathname);
    const file = /^\/file\/bot([^/]+)\/(?:test\/)?(.+)$/.exec(url.pathname);
    const rec = recordOf(req, raw);
    requests.push(rec);
    changed();
    try {
      if (!api && !file) return reply(res, rec, 404, { ok: false, error_code: 404, description: "Not Found" });
      if (rec.token !== token) return reply(res, rec, 401, { ok: false, error_code: 401, description: "Unauthorized" });
      const fault = faults.take(rec);
      if (fault) rec.fault = fault.kind;
      if (fault?.kind === "reset") {
        req.socket.destroy();
        rec.status = 0;
        changed();
        return;
      }
      if (fault?.kind === "drop") dropping.add(res);
      if (fault?.kind === "close_after") closeAfterAnswer(res);
      if (fault?.kind === "delay") await new Promise((r) => setTimeout(r, fault.ms));
      if (fault?.kind === "raw") {
        rec.status = fault.status!;
        rec.response = Buffer.isBuffer(fault.raw) ? fault.raw.toString("utf8") : fault.raw;
        sendRaw(res, fault.status!, fault.raw ?? "", fault.contentType, fault.headers);
        changed();
        return;
      }
      if (fault?.kind === "fail") {
        const status = fault.status ?? 500;
        return reply(
          res,
          rec,
          status,
          fault.body ?? { ok: false, error_code: status, description: http.STATUS_CODES[status] ?? "Error" },
          fault.headers,
        );
      }
      if (file) {
        const content = chats.fileByPath(decodeURIComponent(file[2]!));
        if (!content) return reply(res, rec, 404, { ok: false, error_code: 404, description: "Not Found" });
        rec.status = 200;
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(content.length) }).end(content);
        changed();
        return;
      }
      const { params, files } = await readParams(req, raw, url);
      rec.params = params;
      rec.files = files;
      const flood = options.rateLimits?.admit(rec.method!, params["chat_id"], now());
      if (flood) throw new ApiError(429, flood.description, { retry_after: flood.retry_after });
      handleApi(rec.method!, params, files, res, rec);
    } catch (e) {
      if (e instanceof ApiError) {
        return reply(res, rec, e.status, {
          ok: false,
          error_code: e.status,
          description: e.description,
          ...(e.parameters ? { parameters: e.parameters } : {}),
        });
      }
      return reply(res, rec, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${(e as Error).message}` });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    /** Give grammY `client: { apiRoot: server.url }` (no trailing slash, §1.8). */
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    botUser,
    requests,
    /** Messages the bot sent (sendMessage, sendPhoto, sendDocument) with the Message objects returned. */
    sentMessages: chats.sentMessages,
    callbackAnswers: chats.callbackAnswers,
    /** Accepted sendChatAction calls (chat id, action, topic). */
    chatActions: chats.chatActions,
    webhookDeliveries: updates.webhookDeliveries,
    commands,
    /** Command menus per scope (setMyCommands / getMyCommands / deleteMyCommands, validated). */
    menus,
    /** Requests for one API method (case-insensitive). */
    callsTo(method: string) {
      return requests.filter((r) => r.method?.toLowerCase() === method.toLowerCase());
    },
    /** Queues an update (update_id assigned if missing), waking a parked getUpdates or delivering to the webhook; undefined if filtered by allowed_updates. */
    pushUpdate(update: Omit<TelegramUpdate, "update_id"> & { update_id?: number }): number | undefined {
      chats.noteInbound(update as TelegramUpdate);
      return updates.push(update);
    },
    /** Updates not yet confirmed by an offset (or not yet accepted by the webhook). */
    pendingUpdates: () => updates.queue.map((q) => q.update),
    filteredUpdates: updates.filteredUpdates,
    webhook: () => (updates.webhook ? { ...updates.webhook } : null),
    isPollParked: () => updates.isPollParked,
    waitUntil: <T>(cond: () => T | undefined | null | false, timeoutMs?: number, what?: string) => waiters.waitUntil(cond, timeoutMs, what),
    waitForRequest(pred: (r: TelegramRecordedRequest) => boolean, timeoutMs = 5000) {
      return waiters.waitUntil(() => requests.find(pred), timeoutMs, "matching request");
    },
    waitForParkedPoll(timeoutMs = 5000) {
      return waiters.waitUntil(() => updates.isPollParked, timeoutMs, "a parked getUpdates");
    },
    addChat: (chat: TelegramChat) => chats.addChat(chat),
    /** 403 "Forbidden: bot was blocked by the user" (§1.7). */
    blockChat(id: number) {
      chats.forbid(id, "Forbidden: bot was blocked by the user");
    },
    unblockChat(id: number) {
      chats.unforbid(id);
    },
    /** Any other 403, e.g. "Forbidden: bot was kicked from the group chat" or "Forbidden: user is deactivated". */
    forbid(id: number, description = "Forbidden: bot was kicked from the group chat") {
      chats.forbid(id, description);
    },
    /** Old id answers 400 "group chat was upgraded to a supergroup chat" + parameters.migrate_to_chat_id (§1.4). */
    migrateChat(oldId: number, newId: number, title?: string) {
      chats.migrate(oldId, newId, title);
    },
    /** 400 "Bad Request: chat not found" for this chat from now on. */
    forgetChat(id: number) {
      chats.forget(id);
    },
    /**
     * A connected business account (§10.1.6); its chats are reached only with business_connection_id, an unknown id
     * answers 400 "business connection not found". Pushed business_connection / business_message updates do this too.
     */
    addBusinessConnection(id: string, businessChats: TelegramChat[] = []) {
      chats.addBusinessConnection(id);
      for (const c of businessChats) chats.addBusinessChat(id, c);
    },
    /** Marks the chat as a forum with this topic; other message_thread_ids then get "message thread not found". */
    addForumTopic(chatId: number, threadId: number) {
      chats.addForumTopic(chatId, threadId);
    },
    addFile: (f: Parameters<TelegramChats["addFile"]>[0]) => chats.addFile(f),
    expireCallbackQuery(id: string) {
      chats.expireCallbackQuery(id);
    },
    failNext(f: TelegramFault) {
      faults.push({ kind: "fail", ...faultMatch(f), status: f.status, body: f.body, headers: f.headers });
    },
    /** An error answered with a body sent byte for byte (empty, truncated JSON, plain text). */
    failRawNext(f: TelegramFaultMatch & { status: number; body: string | Buffer; contentType?: string; headers?: Record<string, string> }) {
      faults.push({ kind: "raw", ...faultMatch(f), status: f.status, raw: f.body, contentType: f.contentType, headers: f.headers });
    },
    /** The HTML error page a proxy in front of the Bot API serves during an outage (502, 503, 504). */
    htmlErrorNext(status: number, m: TelegramFaultMatch & { headers?: Record<string, string> } = {}) {
      faults.push({ kind: "raw", ...faultMatch(m), status, raw: htmlErrorPage(status), contentType: "text/html", headers: m.headers });
    },
    /** Processes the request (the message is sent), then closes the connection instead of answering. */
    dropNext(m: TelegramFaultMatch = {}) {
      faults.push({ kind: "drop", ...faultMatch(m) });
    },
    /** Closes the connection as soon as the first body bytes arrive, before the body is complete. */
    resetMidBodyNext(m: TelegramFaultMatch = {}) {
      faults.push({ kind: "reset_mid_body", ...faultMatch(m) });
    },
    /** Answers, then closes the keep-alive connection (the client's pooled socket goes stale). */
    closeAfterNext(m: TelegramFaultMatch = {}) {
      faults.push({ kind: "close_after", ...faultMatch(m) });
    },
    /** Decide a fault per request (after the queued ones); null removes the plan. For fault-mix runs. */
    setFaultPlan(plan: ((rec: TelegramRecordedRequest) => PlannedFault | undefined) | null) {
      faults.plan = plan;
    },
    /** 429 with the exact Bot API flood body (§1.7). */
    rateLimitNext(retryAfter: number, m: TelegramFaultMatch = {}) {
      faults.push({
        kind: "fail",
        ...faultMatch(m),
        status: 429,
        body: {
          ok: false,
          error_code: 429,
          description: `Too Many Requests: retry after ${retryAfter}`,
          parameters: { retry_after: retryAfter },
        },
      });
    },
    delayNext(ms: number, m: TelegramFaultMatch = {}) {
      faults.push({ kind: "delay", ms, ...faultMatch(m) });
    },
    /** Destroys the socket instead of answering. */
    resetNext(m: TelegramFaultMatch = {}) {
      faults.push({ kind: "reset", ...faultMatch(m) });
    },
    clearFaults() {
      faults.clear();
    },
    advanceTime(ms: number) {
      timeOffset += ms;
    },
    close(): Promise<void> {
      updates.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export type TelegramBotApiServer = Awaited<ReturnType<typeof startTelegramBotApiServer>>;
