/** Users, guilds, channels, messages and attachments of the local Discord server (PROVIDERS.md §2.1–2.3). */
import type { FaultKind } from "./http-faults.ts";
import type http from "node:http";
import crypto from "node:crypto";
import { checkComponentsAndMentions } from "./discord-server-webhooks.ts";

export type Json = Record<string, unknown>;

export interface DiscordRecordedRequest {
  method: string;
  /** Path below /api/v10 (or the full path for CDN and unknown routes). */
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
  at: number;
  status?: number;
  response?: unknown;
  responseHeaders?: Record<string, string>;
  /** The injected fault this request met (`failNext`, `dropNext`, a fault plan, …), if any. */
  fault?: FaultKind;
}
export interface DiscordUploadedFile {
  name: string;
  contentType: string;
  size: number;
  data: Buffer;
}
export interface DiscordSentMessage {
  channelId: string;
  message: Json;
  content: string;
  allowed_mentions?: unknown;
  nonce?: unknown;
  message_reference?: unknown;
  files: DiscordUploadedFile[];
  body: Json;
}
export interface DiscordChannelSpec {
  id: string;
  name?: string;
  type?: number;
  parent_id?: string | null;
  [k: string]: unknown;
}
export interface DiscordGuildSpec {
  id: string;
  name?: string;
  channels?: DiscordChannelSpec[];
  /** Active threads (type 11 public / 12 private) announced in GUILD_CREATE.threads. */
  threads?: DiscordChannelSpec[];
}

const DISCORD_EPOCH = 1420070400000n;
export const DEFAULT_GUILD_ID = "1100000000000000001";
export const DEFAULT_CHANNEL_ID = "1100000000000000010";
export const DEFAULT_USER_ID = "1200000000000000001";
const ATTACHMENT_TTL_MS = 24 * 3600 * 1000;

const codePoints = (s: string) => [...s].length;
export const iso = (ms: number) => new Date(ms).toISOString().replace("Z", "000+00:00");
const cmpId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);
/** Milliseconds encoded in a snowflake: (id >> 22) + 1420070400000 (§2.1). */
export const snowflakeTime = (id: string) => Number((BigInt(id) >> 22n) + DISCORD_EPOCH);

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
  ) {
    super(String(body["message"]));
  }
}
/** §2.1 error body: {code:50035, message:"Invalid Form Body", errors:{field:{_errors:[{code,message}]}}}. */
export const formError = (field: string, code: string, message: string) =>
  new RestError(400, { message: "Invalid Form Body", code: 50035, errors: { [field]: { _errors: [{ code, message }] } } });

export interface StoreDeps {
  botUser: Json;
  now: () => number;
  strictChannels: boolean;
  guilds: DiscordGuildSpec[];
  baseUrl: () => string;
  dispatch: (t: string, d: Json) => void;
  echoOwnMessages: boolean;
}

export class DiscordStore {
  readonly users = new Map<string, Json>();
  readonly channels = new Map<string, Json>();
  readonly sentMessages: DiscordSentMessage[] = [];
  private readonly blocked = new Map<string, RestError>();
  private readonly history = new Map<string, Json[]>();
  private readonly nonces = new Map<string, { msg: Json; at: number }>();
  private readonly attachments = new Map<string, { data: Buffer; contentType: string; expiresAt: number; hm: string }>();
  private readonly joinedAt: string;
  private lastId = 0n;
  private increment = 0n;

  constructor(private readonly d: StoreDeps) {
    this.users.set(String(d.botUser["id"]), d.botUser);
    this.addUser({ id: DEFAULT_USER_ID, username: "ada", global_name: "Ada" });
    this.joinedAt = iso(d.now());
    for (const g of d.guilds) {
      (g.channels ?? []).forEach((c, i) => this.channels.set(c.id, this.channelObject(c, g.id, i)));
      (g.threads ?? []).forEach((c, i) => this.channels.set(c.id, this.channelObject({ type: 11, ...c }, g.id, i)));
    }
  }

  /** Monotonic snowflakes from the clock (§2.1). */
  snowflake(ms = this.d.now()): string {
    let id = ((BigInt(Math.floor(ms)) - DISCORD_EPOCH) << 22n) | (1n << 17n) | (this.increment++ & 0xfffn);
    if (id <= this.lastId) id = this.lastId + 1n;
    this.lastId = id;
    return id.toString();
  }

  addUser(u: Json & { id?: string } = {}): Json {
    const id = u.id ?? DEFAULT_USER_ID;
    const user: Json = {
      id,
      username: `user${id.slice(-4)}`,
      discriminator: "0",
      global_name: null,
      avatar: null,
      public_flags: 0,
      ...this.users.get(id),
      ...u,
    };
    this.users.set(id, user);
    return user;
  }

  private channelObject(spec: DiscordChannelSpec, guildId: string | null, position: number): Json {
    const type = spec.type ?? 0;
    const base: Json = {
      id: spec.id,
      type,
      name: spec.name ?? `channel-${spec.id.slice(-4)}`,
      position,
      flags: 0,
      parent_id: spec.parent_id ?? null,
      permission_overwrites: [],
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      ...(guildId ? { guild_id: guildId } : {}),
    };
    if (type === 11 || type === 12) {
      delete base["permission_overwrites"];
      Object.assign(base, {
        owner_id: DEFAULT_USER_ID,
        member_count: 1,
        message_count: 0,
        total_message_sent: 0,
        thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: iso(this.d.now()), locked: false },
      });
    }
    return { ...base, ...spec };
  }

  /** The GUILD_CREATE payload (§2.2 step 6; channels without guild_id, threads separately). */
  guildObject(g: DiscordGuildSpec): Json {
    const mine = [...this.channels.values()].filter((c) => c["guild_id"] === g.id);
    const isThread = (c: Json) => c["type"] === 10 || c["type"] === 11 || c["type"] === 12;
    return {
      id: g.id,
      name: g.name ?? `guild-${g.id.slice(-4)}`,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: DEFAULT_USER_ID,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [
        {
          id: g.id,
          name: "@everyone",
          color: 0,
          hoist: false,
          icon: null,
          unicode_emoji: null,
          position: 0,
          permissions: "2248473465835073",
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      emojis: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: "en-US",
      public_updates_channel_id: null,
      nsfw_level: 0,
      stickers: [],
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      joined_at: this.joinedAt,
      large: false,
      unavailable: false,
      member_count: 2,
      voice_states: [],
      members: [{ user: this.d.botUser, ...this.member() }],
      channels: mine.filter((c) => !isThread(c)).map(({ guild_id: _g, ...rest }) => rest),
      threads: mine.filter(isThread),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }
  guilds(): Json[] {
    return this.d.guilds.map((g) => this.guildObject(g));
  }

  private member(): Json {
    return {
      roles: [],
      joined_at: this.joinedAt,
      deaf: false,
      mute: false,
      flags: 0,
      nick: null,
      avatar: null,
      premium_since: null,
      pending: false,
    };
  }

  addChannel(spec: DiscordChannelSpec & { guild_id?: string | null }): Json {
    const guildId = spec.guild_id === undefined ? (this.d.guilds[0]?.id ?? DEFAULT_GUILD_ID) : spec.guild_id;
    const c = this.channelObject(spec, guildId, this.channels.size);
    this.channels.set(spec.id, c);
    this.blocked.delete(spec.id);
    return c;
  }
  /** The DM channel with a user (POST /users/@me/channels). */
  dmChannel(userId: string): Json {
    const existing = [...this.channels.values()].find((c) => c["type"] === 1 && (c["recipients"] as Json[])[0]?.["id"] === userId);
    if (existing) return existing;
    const c: Json = { id: this.snowflake(), type: 1, last_message_id: null, flags: 0, recipients: [this.addUser({ id: userId })] };
    this.channels.set(c["id"] as string, c);
    return c;
  }
  block(id: string, err: RestError) {
    this.blocked.set(id, err);
  }
  deleteChannel(id: string) {
    this.channels.delete(id);
    this.blocked.set(id, new RestError(404, { message: "Unknown Channel", code: 10003 }));
  }

  channel(id: string): Json {
    const blocked = this.blocked.get(id);
    if (blocked) throw blocked;
    const c = this.channels.get(id);
    if (c) return c;
    if (this.d.strictChannels || !/^\d{1,20}$/.test(id)) throw new RestError(404, { message: "Unknown Channel", code: 10003 });
    return this.addChannel({ id });
  }

  messagesOf(channelId: string): Json[] {
    const list = this.history.get(channelId) ?? [];
    this.history.set(channelId, list);
    return list;
  }
  private store(channelId: string, msg: Json) {
    const list = this.messagesOf(channelId);
    list.push(msg);
    list.sort((a, b) => cmpId(a["id"] as string, b["id"] as string));
    const c = this.channels.get(channelId);
    if (c) c["last_message_id"] = list.at(-1)!["id"];
  }

  /** §2.2: MESSAGE_CREATE = message + guild_id?, member?, channel_type? (discord.js needs channel_type to build a partial DM channel). */
  gatewayPayload(msg: Json): Json {
    const c = this.channels.get(msg["channel_id"] as string);
    const guildId = c?.["guild_id"] as string | undefined;
    if (!guildId) return { ...msg, channel_type: c?.["type"] ?? 1 };
    return { ...msg, channel_type: c?.["type"] ?? 0, guild_id: guildId, member: this.member() };
  }

  /** A CDN attachment (signed ex/is/hm query, expires after 24 h, no bot token needed; §2.6 item 12). */
  addAttachment(filename: string, content: Buffer | string, contentType = "application/octet-stream"): Json {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const id = this.snowflake();
    const now = this.d.now();
    const hm = crypto.randomBytes(16).toString("hex");
    this.attachments.set(id, { data, contentType, expiresAt: now + ATTACHMENT_TTL_MS, hm });
    const q = `ex=${Math.floor((now + ATTACHMENT_TTL_MS) / 1000).toString(16)}&is=${Math.floor(now / 1000).toString(16)}&hm=${hm}&`;
    const url = `${this.d.baseUrl()}/attachments/${id}/${encodeURIComponent(filename)}?${q}`;
    return {
      id,
      filename,
      size: data.length,
      url,
      proxy_url: url.replace("/attachments/", "/media-proxy/attachments/"),
      content_type: contentType,
    };
  }
  attachment(id: string, hm: string | null): { data: Buffer; contentType: string } | undefined {
    const a = this.attachments.get(id);
    if (!a || a.hm !== hm || this.d.now() > a.expiresAt) return undefined;
    return a;
  }

  /** Seeds a message into a channel's history (GET …/messages); dispatched as MESSAGE_CREATE only when opts.dispatch. */
  addMessage(channelId: string, partial: Json = {}, opts: { dispatch?: boolean } = {}): Json {
    this.channel(channelId);
    const ts = typeof partial["timestamp"] === "string" ? Date.parse(partial["timestamp"]) : this.d.now();
    const id = typeof partial["id"] === "string" ? partial["id"] : this.snowflake(ts);
    const author = this.addUser((partial["author"] as Json | undefined) ?? {});
    const msg: Json = {
      type: 0,
      content: "",
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      timestamp: iso(snowflakeTime(id)),
      edited_timestamp: null,
      flags: 0,
      components: [],
      id,
      channel_id: channelId,
      pinned: false,
      mention_everyone: false,
      tts: false,
      ...partial,
      author,
    };
    this.store(channelId, msg);
    if (opts.dispatch) this.d.dispatch("MESSAGE_CREATE", this.gatewayPayload(msg));
    return msg;
  }

  /** §2.3 content ≤ 2000 code points (50035), not empty (50006), ≤ 10 embeds, nonce ≤ 25 chars. */
  validateContent(body: Json, files: number, requireSomething: boolean): string {
    const content = body["content"];
    if (content !== undefined && content !== null && typeof content !== "string")
      throw formError("content", "BASE_TYPE_STRING", `Could not interpret "${String(content)}" as string.`);
    const text = (content as string | undefined | null) ?? "";
    if (codePoints(text) > 2000) throw formError("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
    checkComponentsAndMentions(body); // components + allowed_mentions on every create, edit and webhook (discord-server-webhooks.ts)
    const embeds = body["embeds"];
    if (Array.isArray(embeds) && embeds.length > 10) throw formError("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
    const nonce = body["nonce"];
    if (typeof nonce === "string" && nonce.length > 25) throw formError("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
    const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;
    const hasSomething =
      text.trim() !== "" ||
      nonEmpty(embeds) ||
      files > 0 ||
      nonEmpty(body["sticker_ids"]) ||
      nonEmpty(body["components"]) ||
      body["poll"] !== undefined;
    if (requireSomething && !hasSomething) throw new RestError(400, { message: "Cannot send an empty message", code: 50006 });
    return text;
  }

  /** POST /channels/{id}/messages (§2.3). */
  createMessage(channelId: string, body: Json, files: DiscordUploadedFile[]): Json {
    const author = this.d.botUser;
    const channel = this.channel(channelId);
    const content = this.validateContent(body, files.length, true);
    const nonce = body["nonce"];
    const nonceKey = `${String(author["id"])}:${String(nonce)}`;
    if (nonce !== undefined && body["enforce_nonce"] === true) {
      // §2.3: same author + nonce within a few minutes returns the existing message without creating one.
      const prev = this.nonces.get(nonceKey);
      if (prev && this.d.now() - prev.at < 5 * 60_000) return prev.msg;
    }
    const ref = body["message_reference"] as Json | undefined;
    let referenced: Json | null = null;
    if (ref && (ref["type"] ?? 0) === 0 && ref["message_id"] !== undefined) {
      referenced = this.messagesOf(String(ref["channel_id"] ?? channelId)).find((m) => m["id"] === String(ref["message_id"])) ?? null;
      if (!referenced && ref["fail_if_not_exists"] !== false)
        throw formError("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message");
    }
    const id = this.snowflake();
    const msg: Json = {
      type: referenced ? 19 : 0,
      content,
      mentions: [],
      mention_roles: [],
      attachments: files.map((f) => this.addAttachment(f.name, f.data, f.contentType)),
      embeds: (body["embeds"] as unknown[] | undefined) ?? [],
      timestamp: iso(snowflakeTime(id)),
      edited_timestamp: null,
      flags: Number(body["flags"] ?? 0),
      components: (body["components"] as unknown[] | undefined) ?? [],
      id,
      channel_id: channelId,
      author,
      pinned: false,
      mention_everyone: false,
      tts: body["tts"] === true,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(referenced
        ? {
            message_reference: {
              type: 0,
              channel_id: channelId,
              message_id: referenced["id"],
              ...(channel["guild_id"] ? { guild_id: channel["guild_id"] } : {}),
            },
            referenced_message: referenced,
          }
        : {}),
    };
    if (nonce !== undefined) this.nonces.set(nonceKey, { msg, at: this.d.now() });
    this.store(channelId, msg);
    this.sentMessages.push({
      channelId,
      message: msg,
      content,
      files,
      body,
      ...(body["allowed_mentions"] !== undefined ? { allowed_mentions: body["allowed_mentions"] } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      ...(ref !== undefined ? { message_reference: ref } : {}),
    });
    // Discord echoes the bot's own messages over the gateway (§2.5).
    if (this.d.echoOwnMessages) this.d.dispatch("MESSAGE_CREATE", this.gatewayPayload(msg));
    return msg;
  }

  /** GET /channels/{id}/messages?after|before|around&limit (1–100, default 50) → newest → oldest (§2.3). */
  listMessages(channelId: string, q: Record<string, string>): Json[] {
    this.channel(channelId);
    const limit = q["limit"] === undefined ? 50 : Number(q["limit"]);
    if (!Number.isInteger(limit) || limit < 1)
      throw formError("limit", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 1.");
    if (limit > 100) throw formError("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.");
    const all = this.messagesOf(channelId); // ascending by id
    let page: Json[];
    if (q["after"] !== undefined) page = all.filter((m) => cmpId(m["id"] as string, q["after"]!) > 0).slice(0, limit);
    else if (q["before"] !== undefined) page = all.filter((m) => cmpId(m["id"] as string, q["before"]!) < 0).slice(-limit);
    else if (q["around"] !== undefined) {
      const idx = all.findIndex((m) => cmpId(m["id"] as string, q["around"]!) >= 0);
      const start = Math.max(0, (idx < 0 ? all.length : idx) - Math.floor(limit / 2));
      page = all.slice(start, start + limit);
    } else page = all.slice(-limit);
    return [...page].reverse();
  }

  message(channelId: string, messageId: string): { list: Json[]; index: number; msg: Json } {
    this.channel(channelId);
    const list = this.messagesOf(channelId);
    const index = list.findIndex((x) => x["id"] === messageId);
    if (index < 0) throw new RestError(404, { message: "Unknown Message", code: 10008 });
    return { list, index, msg: list[index]! };
  }
}
