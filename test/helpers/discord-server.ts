/** Local Discord API server (REST /api/v10 on node:http + the WebSocket gateway on the same port) for the real discord.js client, per PROVIDERS.md §2 and §5. */
import http from "node:http";
import crypto from "node:crypto";
import type { AddressInfo } from "node:net";
import { DiscordGateway, Intents, type GatewaySession } from "./discord-gateway.ts";
import {
  DEFAULT_CHANNEL_ID,
  DEFAULT_GUILD_ID,
  DEFAULT_USER_ID,
  DiscordStore,
  iso,
  RestError,
  type DiscordChannelSpec,
  type DiscordGuildSpec,
  type DiscordRecordedRequest,
  type DiscordUploadedFile,
  type Json,
} from "./discord-server-store.ts";

export { Intents } from "./discord-gateway.ts";
export type { GatewayFrame, GatewaySession, GatewayCloseRecord } from "./discord-gateway.ts";
export { DEFAULT_CHANNEL_ID, DEFAULT_GUILD_ID, DEFAULT_USER_ID, snowflakeTime } from "./discord-server-store.ts";
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
}

const DEFAULT_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
type Bucket = { remaining: number; resetAt: number; hash: string };

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
  const server = http.createServer((req, res) => {
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

  // ---- rate-limit buckets (§2.3: X-RateLimit-* on every response; @discordjs/rest reads only the headers)
  const buckets = new Map<string, Bucket>();
  function bucketFor(method: string, path: string): Bucket {
    const major = /^\/(?:channels|guilds|webhooks)\/(\d+)/.exec(path)?.[1] ?? ""; // per route and major parameter
    const route = path.replace(/\d{15,21}/g, ":id");
    const key = `${method} ${route} ${major}`;
    let b = buckets.get(key);
    const t = now();
    if (!b || t >= b.resetAt) {
      b = {
        remaining: rl.limit,
        resetAt: t + rl.windowMs,
        hash: crypto.createHash("sha1").update(`${method} ${route}`).digest("hex").slice(0, 16),
      };
      buckets.set(key, b);
    }
    return b;
  }
  const rateHeaders = (b: Bucket): Record<string, string> => ({
    "x-ratelimit-limit": String(rl.limit),
    "x-ratelimit-remaining": String(b.remaining),
    "x-ratelimit-reset": (b.resetAt / 1000).toFixed(3),
    "x-ratelimit-reset-after": (Math.max(0, b.resetAt - now()) / 1000).toFixed(3),
    "x-ratelimit-bucket": b.hash,
  });

  // ---- fault injection
  type Fault = {
    kind: "fail" | "delay" | "reset";
    match?: DiscordMatch;
    remaining: number;
    status?: number;
    body?: unknown;
    headers?: Record<string, string>;
    ms?: number;
    rateLimit?: { retryAfter: number; global: boolean; scope: string };
  };
  const faults: Fault[] = [];
  const faultMatch = (m: DiscordFaultMatch) => ({ remaining: m.count ?? 1, ...(m.match !== undefined ? { match: m.match } : {}) });
  function takeFault(r: DiscordRecordedRequest): Fault | undefined {
    const i = faults.findIndex(
      (f) => f.match === undefined || (typeof f.match === "string" ? `${r.method} ${r.path}`.includes(f.match) : f.match(r)),
    );
    if (i < 0) return undefined;
    const f = faults[i]!;
    if (--f.remaining <= 0) faults.splice(i, 1);
    return f;
  }

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
    if (!res.writableEnded && !res.destroyed) {
      if (status === 204) res.writeHead(204, headers).end();
      else if (Buffer.isBuffer(body)) res.writeHead(status, headers).end(body);
      else res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    }
    changed();
  }

  async function readBody(req: http.IncomingMessage, raw: Buffer): Promise<{ body: Json; files: DiscordUploadedFile[] }> {
    const ct = (req.headers["content-type"] ?? "").toLowerCase();
    if (raw.length === 0) return { body: {}, files: [] };
    if (ct.startsWith("application/json")) {
      try {
        return { body: JSON.parse(raw.toString("utf8")) as Json, files: [] };
      } catch {
        throw new RestError(400, { message: "400: Bad Request", code: 0 });
      }
    }
    if (ct.startsWith("multipart/form-data")) {
      // files[n] + payload_json (§2.3)
      const form = await new Response(raw, { headers: { "content-type": req.headers["content-type"]! } }).formData();
      let body: Json = {};
      const files: DiscordUploadedFile[] = [];
      for (const [k, v] of form) {
        if (k === "payload_json" && typeof v === "string") body = JSON.parse(v) as Json;
        else if (typeof v !== "string")
          files.push({ name: (v as File).name, contentType: v.type, size: v.size, data: Buffer.from(await v.arrayBuffer()) });
      }
      return { body, files };
    }
    throw new RestError(400, { message: "Invalid Form Body", code: 50035 }); // §2.1: other content types
  }

  // ---- REST routes (§2.3, §2.4, §2.5)
  async function route(
    method: string,
    path: string,
    q: Record<string, string>,
    req: http.IncomingMessage,
    raw: Buffer,
  ): Promise<{ status: number; body?: unknown }> {
    let m: RegExpExecArray | null;
    const ok = (body: unknown) => ({ status: 200, body });
    if (method === "GET" && path === "/gateway") return ok({ url: wsUrl });
    if (method === "GET" && path === "/gateway/bot") {
      return ok({
        url: wsUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      });
    }
    if (method === "GET" && path === "/users/@me") return ok(botUser);
    if (method === "GET" && path === "/applications/@me") {
      return ok({
        id: application.id,
        name: botUser["username"],
        flags: 0,
        bot_public: true,
        bot_require_code_grant: false,
        description: "",
        icon: null,
        bot: botUser,
      });
    }
    if ((m = /^\/users\/(\d+)$/.exec(path)) && method === "GET") {
      const u = store.users.get(m[1]!);
      if (!u) throw new RestError(404, { message: "Unknown User", code: 10013 });
      return ok(u);
    }
    if (method === "POST" && path === "/users/@me/channels")
      return ok(store.dmChannel(String((await readBody(req, raw)).body["recipient_id"])));
    if ((m = /^\/channels\/(\d+)$/.exec(path)) && method === "GET") return ok(store.channel(m[1]!));
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === "POST") {
      store.channel(m[1]!);
      return { status: 204 };
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      if (method === "GET") return ok(store.listMessages(m[1]!, q));
      if (method === "POST") {
        const { body, files } = await readBody(req, raw);
        return ok(store.createMessage(m[1]!, body, files));
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const { list, index, msg } = store.message(m[1]!, m[2]!);
      if (method === "GET") return ok(msg);
      if (method === "PATCH") {
        if ((msg["author"] as Json)["id"] !== botUser["id"])
          throw new RestError(403, { message: "Cannot edit a message authored by another user", code: 50005 });
        const { body } = await readBody(req, raw);
        if (body["content"] !== undefined) msg["content"] = store.validateContent(body, 0, false);
        if (body["embeds"] !== undefined) msg["embeds"] = body["embeds"];
        msg["edited_timestamp"] = iso(now());
        gateway.dispatch("MESSAGE_UPDATE", store.gatewayPayload(msg));
        return ok(msg);
      }
      if (method === "DELETE") {
        list.splice(index, 1);
        const guildId = store.channels.get(m[1]!)?.["guild_id"];
        gateway.dispatch("MESSAGE_DELETE", { id: m[2], channel_id: m[1], ...(guildId ? { guild_id: guildId } : {}) });
        return { status: 204 };
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path)) && method === "PUT") {
      store.message(m[1]!, m[2]!);
      reactions.push({ channelId: m[1]!, messageId: m[2]!, emoji: decodeURIComponent(m[3]!) });
      return { status: 204 };
    }
    // Interactions (§2.4): the callback and the @original edit authenticate with the interaction token in the path.
    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === "POST") {
      if (expiredInteractionTokens.has(m[2]!)) throw new RestError(404, { message: "Unknown interaction", code: 10062 });
      interactionCallbacks.push({ route: `callback ${m[1]}`, token: m[2]!, body: (await readBody(req, raw)).body });
      return { status: 204 };
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(path)) && (method === "PATCH" || method === "POST")) {
      if (expiredInteractionTokens.has(m[2]!)) throw new RestError(404, { message: "Unknown Webhook", code: 10015 });
      const { body, files } = await readBody(req, raw);
      const content = store.validateContent(body, files.length, method === "POST");
      interactionCallbacks.push({ route: `${method} ${m[3] ?? "followup"}`, token: m[2]!, body });
      return ok({
        type: method === "PATCH" ? 20 : 0,
        content,
        mentions: [],
        mention_roles: [],
        attachments: [],
        embeds: body["embeds"] ?? [],
        timestamp: iso(now()),
        edited_timestamp: method === "PATCH" ? iso(now()) : null,
        flags: Number(body["flags"] ?? 0),
        components: [],
        id: store.snowflake(),
        channel_id: interactionChannel,
        author: botUser,
        pinned: false,
        mention_everyone: false,
        tts: false,
        webhook_id: m[1],
        application_id: m[1],
      });
    }
    throw new RestError(404, { message: "404: Not Found", code: 0 });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const versioned = url.pathname.startsWith("/api/v10/");
    const rec: DiscordRecordedRequest = {
      method,
      path: versioned ? url.pathname.slice("/api/v10".length) : url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody: raw.toString("utf8"),
      body: undefined,
      at: now(),
    };
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
      const fault = takeFault(rec);
      if (fault?.kind === "reset") {
        req.socket.destroy();
        rec.status = 0;
        changed();
        return;
      }
      if (fault?.kind === "delay") await new Promise((r) => setTimeout(r, fault.ms));
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
    server.listen(0, "127.0.0.1", () => resolve());
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
    failNext(f: DiscordFault) {
      faults.push({ kind: "fail", ...faultMatch(f), status: f.status, body: f.body, headers: f.headers });
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
      faults.length = 0;
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
