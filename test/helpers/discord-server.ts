/** Local Discord API server (REST /api/v10 on node:http + the WebSocket gateway on the same port) for the real discord.js client, per PROVIDERS.md §2 and §5. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { DiscordGateway, Intents, type GatewaySession } from "./discord-gateway.ts";
import {
  DEFAULT_CHANNEL_ID,
  DEFAULT_GUILD_ID,
  DEFAULT_USER_ID,
  DiscordStore,
  RestError,
  type DiscordChannelSpec,
  type DiscordGuildSpec,
  type DiscordRecordedRequest,
  type Json,
} from "./discord-server-store.ts";
import { createBuckets, createRoutes, type DiscordTypingCall } from "./discord-server-rest.ts";
import { DiscordInteractions } from "./discord-server-interactions.ts";
import { closeAfterAnswer, FaultQueue, htmlErrorPage, resetMidBody, sendRaw, type PlannedFault } from "./http-faults.ts";

export { Intents } from "./discord-gateway.ts";
export type { GatewayFrame, GatewaySession, GatewayCloseRecord } from "./discord-gateway.ts";
export { DEFAULT_CHANNEL_ID, DEFAULT_GUILD_ID, DEFAULT_USER_ID, snowflakeTime } from "./discord-server-store.ts";
export type { DiscordTypingCall } from "./discord-server-rest.ts";
export type { PlannedFault } from "./http-faults.ts";
export type {
  DiscordChannelSpec,
  DiscordGuildSpec,
  DiscordRecordedRequest,
  DiscordSentMessage,
  DiscordUploadedFile,
} from "./discord-server-store.ts";

/** string = substring of "METHOD /path" (path below /api/v10), e.g. "POST /channels/123/messages" or "/messages". */
export type DiscordMatch = string | ((r: DiscordRecordedRequest) => boolean);
export interface DiscordFaultMatch {
  match?: DiscordMatch;
  count?: number;
}
export interface DiscordFault extends DiscordFaultMatch {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export interface DiscordServerOptions {
  token?: string;
  botUser?: Json;
  guilds?: DiscordGuildSpec[];
  /** HELLO heartbeat_interval (default 41250 ms as in §2.2). */
  heartbeatIntervalMs?: number;
  /** Privileged intents the "developer portal" enabled (default all: GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT); others → close 4014. */
  allowedPrivilegedIntents?: number;
  /** true: channels must exist (guild config, addChannel, DMs) else 404 10003. Default false: unknown ids become text channels. */
  strictChannels?: boolean;
  /** Echo the bot's own created messages as MESSAGE_CREATE over the gateway, like Discord does (default true). */
  echoOwnMessages?: boolean;
  /** Bucket model behind the X-RateLimit-* headers (default 50 per 1000 ms); enforce=true answers 429 when a client ignores them. */
  rateLimit?: { limit?: number; windowMs?: number; enforce?: boolean };
  now?: () => number;
  /** Listen on this port (default: any free one), e.g. where a client was refused before the server started. */
  port?: number;
}

const DEFAULT_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";

export async function startDiscordServer(options: DiscordServerOptions = {}) {
  const token = options.token ?? DEFAULT_TOKEN;
  let timeOffset = 0;
  const now = options.now ?? (() => Date.now() + timeOffset);
  const botUser: Json = {
    id: "1300000000000000001",
    username: "tau-test",
    discriminator: "0",
    global_name: null,
    avatar: null,
    bot: true,
    mfa_enabled: false,
    locale: "en-US",
    verified: true,
    email: null,
    flags: 0,
    premium_type: 0,
    public_flags: 0,
    ...options.botUser,
  };
  const application = { id: botUser["id"], flags: 0 };
  const rl = {
    limit: options.rateLimit?.limit ?? 50,
    windowMs: options.rateLimit?.windowMs ?? 1000,
    enforce: options.rateLimit?.enforce ?? false,
  };
  const requests: DiscordRecordedRequest[] = [];
  const interactionCallbacks: { route: string; token: string; body: unknown }[] = [];
  const reactions: { channelId: string; messageId: string; emoji: string }[] = [];
  const expiredInteractionTokens = new Set<string>();
  let interactionChannel = DEFAULT_CHANNEL_ID;

  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };
  function waitUntil<T>(cond: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = () => {
        try {
          const v = cond();
          if (v !== undefined && v !== null && v !== false) {
            cleanup();
            resolve(v);
          }
        } catch (e) {
          cleanup();
          reject(e);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`discord server: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  }

  let baseUrl = "";
  let wsUrl = "";
  const store: DiscordStore = new DiscordStore({
    botUser,
    now,
    strictChannels: options.strictChannels ?? false,
    guilds: options.guilds ?? [{ id: DEFAULT_GUILD_ID, name: "Tau Test Guild", channels: [{ id: DEFAULT_CHANNEL_ID, name: "general" }] }],
    baseUrl: () => baseUrl,
    dispatch: (t, d) => {
      gateway.dispatch(t, d);
    },
    echoOwnMessages: options.echoOwnMessages ?? true,
  });
  /** The recorded request (body not parsed yet). */
  function recordOf(req: http.IncomingMessage, raw: Buffer): DiscordRecordedRequest {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const versioned = url.pathname.startsWith("/api/v10/");
    return {
      method: req.method ?? "GET",
      path: versioned ? url.pathname.slice("/api/v10".length) : url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody: raw.toString("utf8"),
      body: undefined,
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
  const gateway = new DiscordGateway(server, {
    token,
    botUser,
    application,
    guilds: () => store.guilds(),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41250,
    resumeUrl: () => wsUrl,
    onChange: changed,
    allowedPrivilegedIntents: options.allowedPrivilegedIntents ?? Intents.GuildMembers | Intents.GuildPresences | Intents.MessageContent,
  });

  const { bucketFor, rateHeaders } = createBuckets(rl, now);
  const interactions = new DiscordInteractions({
    applicationId: () => String(application.id),
    now,
    snowflake: () => store.snowflake(),
    botUser,
    channelOf: () => interactionChannel,
  });
  const typingCalls: DiscordTypingCall[] = [];
  const route = createRoutes({
    store,
    botUser,
    application,
    now,
    wsUrl: () => wsUrl,
    dispatch: (t, d) => gateway.dispatch(t, d),
    reactions,
    interactionCallbacks,
    typingCalls,
    expiredInteractionTokens,
    interactionChannel: () => interactionChannel,
    interactions,
  });

  // ---- fault injection
  type RateLimitFault = { rateLimit: { retryAfter: number; global: boolean; scope: string } };
  const faults = new FaultQueue<DiscordMatch, DiscordRecordedRequest, RateLimitFault>(
    (m, r) => m === undefined || (typeof m === "string" ? `${r.method} ${r.path}`.includes(m) : m(r)),
  );
  const faultMatch = (m: DiscordFaultMatch) => ({ remaining: m.count ?? 1, ...(m.match !== undefined ? { match: m.match } : {}) });
  /** Responses whose request was processed but whose connection is closed instead of answered ("drop"). */
  const dropping = new WeakSet<http.ServerResponse>();

  function reply(
    res: http.ServerResponse,
    rec: DiscordRecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    rec.status = status;
    rec.response = body;
    rec.responseHeaders = headers;
    if (dropping.has(res)) {
      // Processed, but the answer never leaves: the client cannot tell whether the message was created.
      res.socket?.destroy();
    } else if (!res.writableEnded && !res.destroyed) {
      if (status === 204) res.writeHead(204, headers).end();
      else if (Buffer.isBuffer(body)) res.writeHead(status, headers).end(body);
      else res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    }
    changed();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const versioned = url.pathname.startsWith("/api/v10/");
    const rec = recordOf(req, raw);
    if ((req.headers["content-type"] ?? "").startsWith("application/json")) {
      try {
        rec.body = JSON.parse(rec.rawBody);
      } catch {
        rec.body = undefined;
      }
    }
    requests.push(rec);
    changed();
    // CDN (§2.6 item 12): signed attachment URLs, no bot token.
    const cdn = /^\/(?:media-proxy\/)?attachments\/(\d+)\/[^/]+$/.exec(url.pathname);
    if (cdn && method === "GET") {
      const a = store.attachment(cdn[1]!, url.searchParams.get("hm"));
      if (!a) return reply(res, rec, 404, Buffer.from("This content is no longer available."), { "content-type": "text/plain" });
      return reply(res, rec, 200, a.data, { "content-type": a.contentType, "content-length": String(a.data.length) });
    }
    if (!versioned) return reply(res, rec, 404, { message: "404: Not Found", code: 0 });
    const bucket = bucketFor(method, rec.path);
    try {
      const tokenRoute = /^\/(interactions|webhooks)\//.test(rec.path) || rec.path === "/gateway";
      if (!tokenRoute && req.headers["authorization"] !== `Bot ${token}`) {
        return reply(res, rec, 401, { message: "401: Unauthorized", code: 0 }, rateHeaders(bucket));
      }
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
      if (fault?.kind === "fail" && fault.rateLimit) {
        // §2.3: 429 + Retry-After + X-RateLimit-Scope (X-RateLimit-Global only for the global limit) + JSON body.
        const { retryAfter, global, scope } = fault.rateLimit;
        const headers: Record<string, string> = {
          ...rateHeaders({ ...bucket, remaining: 0, resetAt: now() + retryAfter * 1000 }),
          "retry-after": String(retryAfter),
          "x-ratelimit-scope": scope,
          ...(global ? { "x-ratelimit-global": "true" } : {}),
          ...fault.headers,
        };
        return reply(res, rec, 429, fault.body ?? { message: "You are being rate limited.", retry_after: retryAfter, global }, headers);
      }
      if (fault?.kind === "fail") {
        const status = fault.status ?? 500;
        return reply(res, rec, status, fault.body ?? { message: `${status}: ${http.STATUS_CODES[status] ?? "Error"}`, code: 0 }, {
          ...rateHeaders(bucket),
          ...fault.headers,
        });
      }
      if (bucket.remaining <= 0 && rl.enforce) {
        const retryAfter = Math.max(0, bucket.resetAt - now()) / 1000;
        return reply(
          res,
          rec,
          429,
          { message: "You are being rate limited.", retry_after: retryAfter, global: false },
          { ...rateHeaders(bucket), "retry-after": String(Math.ceil(retryAfter)), "x-ratelimit-scope": "user" },
        );
      }
      bucket.remaining = Math.max(0, bucket.remaining - 1);
      const out = await route(method, rec.path, rec.query, req, raw);
      return reply(res, rec, out.status, out.body, rateHeaders(bucket));
    } catch (e) {
      if (e instanceof RestError) return reply(res, rec, e.status, e.body, rateHeaders(bucket));
      return reply(res, rec, 500, { message: `500: Internal Server Error (${(e as Error).message})`, code: 0 }, rateHeaders(bucket));
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  wsUrl = `ws://127.0.0.1:${port}`;

  return {
    /** Origin; give discord.js `rest: { api: server.url + "/api" }`. The gateway URL reaches the client via GET /gateway/bot. */
    url: baseUrl,
    port,
    wsUrl,
    token,
    botUser,
    gateway,
    requests,
    /** Messages the bot created with POST /channels/{id}/messages (deduplicated nonces are not repeated). */
    sentMessages: store.sentMessages,
    reactions,
    interactionCallbacks,
    /** Accepted POST /channels/{id}/typing calls (§9.6), in order. */
    typingCalls,
    waitUntil,
    waitForRequest(pred: (r: DiscordRecordedRequest) => boolean, timeoutMs = 5000) {
      return waitUntil(() => requests.find(pred), timeoutMs, "matching request");
    },
    /** Resolves with the session once a client has IDENTIFIED (READY sent). */
    waitForSession(timeoutMs = 5000): Promise<GatewaySession> {
      return waitUntil(() => gateway.currentSession, timeoutMs, "a gateway session");
    },
    snowflake: (ms?: number) => store.snowflake(ms),
    addUser: (u: Json & { id?: string }) => store.addUser(u),
    addChannel: (spec: DiscordChannelSpec & { guild_id?: string | null }) => store.addChannel(spec),
    /** The DM channel with a user (created on first use, like POST /users/@me/channels). */
    dmChannel: (userId: string = DEFAULT_USER_ID) => store.dmChannel(userId),
    /** 403 for this channel: 50001 Missing Access (default), 50013 Missing Permissions, 50007 Cannot send messages to this user. */
    forbidChannel(id: string, code: 50001 | 50013 | 50007 = 50001) {
      const message = { 50001: "Missing Access", 50013: "Missing Permissions", 50007: "Cannot send messages to this user" }[code];
      store.block(id, new RestError(403, { message, code }));
    },
    /** 404 10003 Unknown Channel from now on. */
    deleteChannel: (id: string) => store.deleteChannel(id),
    /** Seeds history for GET …/messages without dispatching. */
    addMessage: (channelId: string, partial: Json = {}) => {
      const m = store.addMessage(channelId, partial);
      changed();
      return m;
    },
    /** A user message: stored and dispatched as MESSAGE_CREATE (guild_id, member, channel_type added). */
    receiveMessage: (channelId: string, partial: Json = {}) => store.addMessage(channelId, partial, { dispatch: true }),
    /** An attachment object whose url is served by this server's CDN route (no token needed, expires after 24 h). */
    addAttachment: (filename: string, content: Buffer | string, contentType?: string) =>
      store.addAttachment(filename, content, contentType),
    messagesIn: (channelId: string) => [...store.messagesOf(channelId)],
    /** Raw dispatch to every session whose intents cover the event (§2.2 step 7). */
    dispatch: (t: string, d: Json, sessionId?: string) => gateway.dispatch(t, d, sessionId),
    requestReconnect: () => gateway.requestReconnect(),
    invalidateSession: (resumable: boolean) => gateway.invalidateSession(resumable),
    closeWith: (code: number, reason?: string) => gateway.closeWith(code, reason),
    requestHeartbeat: () => gateway.requestHeartbeat(),
    /** Stop answering op 1 with op 11 (zombie connection, §2.2 step 4). */
    setHeartbeatAcks(on: boolean) {
      gateway.ackHeartbeats = on;
    },
    expireInteractionToken(tokenValue: string) {
      expiredInteractionTokens.add(tokenValue);
    },
    setInteractionChannel(id: string) {
      interactionChannel = id;
    },
    /** Registered application commands, interactions created by tests, and their answers (discord-server-interactions.ts). */
    interactions,
    /** A new interaction dispatched as INTERACTION_CREATE to every session (no intent needed); returns its payload. */
    dispatchInteraction(spec: Parameters<DiscordInteractions["create"]>[0]) {
      const payload = interactions.create(spec);
      gateway.dispatch("INTERACTION_CREATE", payload);
      return payload;
    },
    failNext(f: DiscordFault) {
      faults.push({ kind: "fail", ...faultMatch(f), status: f.status, body: f.body, headers: f.headers });
    },
    /** An error answered with a body sent byte for byte (empty, truncated JSON, plain text); no X-RateLimit headers. */
    failRawNext(f: DiscordFaultMatch & { status: number; body: string | Buffer; contentType?: string; headers?: Record<string, string> }) {
      faults.push({ kind: "raw", ...faultMatch(f), status: f.status, raw: f.body, contentType: f.contentType, headers: f.headers });
    },
    /** The HTML error page a proxy (Cloudflare, nginx) serves during an outage (502, 503, 504). */
    htmlErrorNext(status: number, m: DiscordFaultMatch & { headers?: Record<string, string> } = {}) {
      faults.push({ kind: "raw", ...faultMatch(m), status, raw: htmlErrorPage(status), contentType: "text/html", headers: m.headers });
    },
    /** Processes the request (the message is created), then closes the connection instead of answering. */
    dropNext(m: DiscordFaultMatch = {}) {
      faults.push({ kind: "drop", ...faultMatch(m) });
    },
    /** Closes the connection as soon as the first body bytes arrive (string matches only: the body is not read yet). */
    resetMidBodyNext(m: DiscordFaultMatch = {}) {
      faults.push({ kind: "reset_mid_body", ...faultMatch(m) });
    },
    /** Answers, then closes the keep-alive connection (the client's pooled socket goes stale). */
    closeAfterNext(m: DiscordFaultMatch = {}) {
      faults.push({ kind: "close_after", ...faultMatch(m) });
    },
    /** Decide a fault per request (after the queued ones); null removes the plan. For fault-mix runs. */
    setFaultPlan(plan: ((rec: DiscordRecordedRequest) => PlannedFault | undefined) | null) {
      faults.plan = plan;
    },
    /** Injected 429 with the §2.3 headers and body (retryAfter in seconds, fractional allowed; Reset-After = retryAfter, Remaining 0). */
    rateLimitNext(
      o: DiscordFaultMatch & { retryAfter?: number; global?: boolean; scope?: "user" | "global" | "shared"; body?: unknown } = {},
    ) {
      const global = o.global ?? false;
      faults.push({
        kind: "fail",
        status: 429,
        ...faultMatch(o),
        body: o.body,
        rateLimit: { retryAfter: o.retryAfter ?? 0.2, global, scope: o.scope ?? (global ? "global" : "user") },
      });
    },
    delayNext(ms: number, m: DiscordFaultMatch = {}) {
      faults.push({ kind: "delay", ms, ...faultMatch(m) });
    },
    /** Destroys the socket instead of answering. */
    resetNext(m: DiscordFaultMatch = {}) {
      faults.push({ kind: "reset", ...faultMatch(m) });
    },
    clearFaults() {
      faults.clear();
    },
    advanceTime(ms: number) {
      timeOffset += ms;
    },
    async close(): Promise<void> {
      await gateway.shutdown();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export type DiscordServer = Awaited<ReturnType<typeof startDiscordServer>>;
