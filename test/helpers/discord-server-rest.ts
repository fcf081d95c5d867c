/** REST side of the local Discord server: request bodies, the X-RateLimit-* bucket model and the /api/v10 routes (PROVIDERS.md §2, §9.6). */
import type http from "node:http";
import crypto from "node:crypto";
import { checkComponentsAndMentions } from "./discord-server-webhooks.ts";
import { iso, RestError, type DiscordStore, type DiscordUploadedFile, type Json } from "./discord-server-store.ts";
import type { DiscordInteractions } from "./discord-server-interactions.ts";

export type Bucket = { remaining: number; resetAt: number; hash: string };

/** One accepted POST /channels/{id}/typing. */
export interface DiscordTypingCall {
  channelId: string;
  at: number;
}

export interface RouteDeps {
  store: DiscordStore;
  botUser: Json;
  application: { id: unknown; flags: number };
  now: () => number;
  wsUrl: () => string;
  dispatch: (t: string, d: Json) => void;
  reactions: { channelId: string; messageId: string; emoji: string }[];
  interactionCallbacks: { route: string; token: string; body: unknown }[];
  typingCalls: DiscordTypingCall[];
  expiredInteractionTokens: Set<string>;
  interactionChannel: () => string;
  /** Application commands and the interactions a test created (deadline, one response, token lifetime). */
  interactions?: DiscordInteractions;
}

/** Rate-limit buckets (§2.3: X-RateLimit-* on every response; @discordjs/rest reads only the headers). */
export function createBuckets(rl: { limit: number; windowMs: number }, now: () => number) {
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
  return { bucketFor, rateHeaders };
}

export async function readBody(req: http.IncomingMessage, raw: Buffer): Promise<{ body: Json; files: DiscordUploadedFile[] }> {
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

/** The /api/v10 routes (§2.3, §2.4, §2.5, §9.6), below authentication, faults and rate limits. */
export function createRoutes(d: RouteDeps) {
  const { store, botUser, application, now, reactions, interactionCallbacks, typingCalls, expiredInteractionTokens } = d;
  return async function route(
    method: string,
    path: string,
    q: Record<string, string>,
    req: http.IncomingMessage,
    raw: Buffer,
  ): Promise<{ status: number; body?: unknown }> {
    let m: RegExpExecArray | null;
    const ok = (body: unknown) => ({ status: 200, body });
    if (method === "GET" && path === "/gateway") return ok({ url: d.wsUrl() });
    if (method === "GET" && path === "/gateway/bot") {
      return ok({
        url: d.wsUrl(),
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
      // §9.6 Trigger Typing Indicator → 204; an unknown or forbidden channel fails as a send would.
      store.channel(m[1]!);
      typingCalls.push({ channelId: m[1]!, at: now() });
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
        d.dispatch("MESSAGE_UPDATE", store.gatewayPayload(msg));
        return ok(msg);
      }
      if (method === "DELETE") {
        list.splice(index, 1);
        const guildId = store.channels.get(m[1]!)?.["guild_id"];
        d.dispatch("MESSAGE_DELETE", { id: m[2], channel_id: m[1], ...(guildId ? { guild_id: guildId } : {}) });
        return { status: 204 };
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path)) && method === "PUT") {
      store.message(m[1]!, m[2]!);
      reactions.push({ channelId: m[1]!, messageId: m[2]!, emoji: decodeURIComponent(m[3]!) });
      return { status: 204 };
    }
    if (path.startsWith("/applications/") && d.interactions) {
      const r = d.interactions.commandsRoute(method, path, method === "PUT" ? (await readBody(req, raw)).body : undefined);
      if (r) return r;
    }
    // Interactions (§2.4): the callback and the @original edit authenticate with the interaction token in the path.
    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === "POST") {
      const cbBody = (await readBody(req, raw)).body;
      const known = d.interactions?.callback(m[1]!, m[2]!, cbBody);
      if (known) {
        interactionCallbacks.push({ route: `callback ${m[1]}`, token: m[2]!, body: cbBody });
        return known;
      }
      if (expiredInteractionTokens.has(m[2]!)) throw new RestError(404, { message: "Unknown interaction", code: 10062 });
      interactionCallbacks.push({ route: `callback ${m[1]}`, token: m[2]!, body: (await readBody(req, raw)).body });
      return { status: 204 };
    }
    if (
      (m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|%40original|\d+))?$/.exec(path)) &&
      (method === "PATCH" || method === "POST")
    ) {
      if (expiredInteractionTokens.has(m[2]!)) throw new RestError(404, { message: "Unknown Webhook", code: 10015 });
      const { body, files } = await readBody(req, raw);
      checkComponentsAndMentions(body); // discord-server-webhooks.ts: for interaction webhooks too
      const known = d.interactions?.webhook(method, m[1]!, decodeURIComponent(m[2]!), m[3] && decodeURIComponent(m[3]), body);
      if (known) {
        interactionCallbacks.push({ route: `${method} ${m[3] ?? "followup"}`, token: decodeURIComponent(m[2]!), body });
        return known;
      }
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
        channel_id: d.interactionChannel(),
        author: botUser,
        pinned: false,
        mention_everyone: false,
        tts: false,
        webhook_id: m[1],
        application_id: m[1],
      });
    }
    throw new RestError(404, { message: "404: Not Found", code: 0 });
  };
}
