/**
 * Interactions and application commands of the local Discord server (PROVIDERS.md §2.4, §10.2):
 * - bulk overwrite `PUT /applications/{app}/commands` (and `…/guilds/{guild}/commands`) with Discord's validation
 *   (names `^[-_'\p{L}\p{N}]{1,32}$` lowercase, descriptions 1–100, ≤ 25 options per level, required options first,
 *   subcommands/groups nesting, ≤ 100 chat-input commands, unique names) → 50035 Invalid Form Body with field errors;
 * - interactions created by the test (`create`), sent over the gateway or signed for an HTTP endpoint (`signedRequest`);
 * - `POST /interactions/{id}/{token}/callback`: one initial response (40060 after), within 3 s of creation (10062
 *   Unknown interaction after), known callback types only;
 * - interaction webhooks: `PATCH /webhooks/{app}/{token}/messages/@original` (after an initial response; 10008
 *   before) and follow-ups `POST /webhooks/{app}/{token}`, token valid 15 min (10015 Unknown Webhook after).
 */
import crypto from "node:crypto";
import type { Envelope } from "../../src/contracts/envelope.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { replyTargetOf } from "../../src/contracts/reply-target.ts";
import { RestError, type Json } from "./discord-server-store.ts";

export const INTERACTION_DEADLINE_MS = 3000;
export const INTERACTION_TOKEN_TTL_MS = 15 * 60_000;
const CALLBACK_TYPES = new Set([1, 4, 5, 6, 7, 8, 9, 10, 12]);
const NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

/** One interaction the server created, and what the app answered. */
export interface RecordedInteraction {
  id: string;
  token: string;
  type: number;
  createdAt: number;
  payload: Json;
  /** The accepted initial response, with when it came (ms after creation). */
  response: { body: Json; afterMs: number } | null;
  /** Refused callbacks: the Discord error code and when. */
  refusedCallbacks: { code: number; afterMs: number }[];
  /** Content of the original response after edits (PATCH @original). */
  original: Json | null;
  followups: Json[];
}

/** A 50035 with one field error, shaped like Discord's (`errors.<path>._errors`). */
function invalidForm(path: (string | number)[], code: string, message: string): RestError {
  const errors: Json = {};
  let cur = errors;
  for (const k of path) cur = (cur[String(k)] = {}) as Json;
  cur["_errors"] = [{ code, message }];
  return new RestError(400, { code: 50035, message: "Invalid Form Body", errors });
}

function checkName(v: unknown, path: (string | number)[], what: "COMMAND" | "OPTION"): void {
  if (typeof v !== "string" || !NAME.test(v) || v !== v.toLowerCase())
    throw invalidForm(
      [...path, "name"],
      `APPLICATION_COMMAND_INVALID_NAME`,
      `${what === "COMMAND" ? "Command" : "Option"} name is invalid`,
    );
}

function checkDescription(v: unknown, path: (string | number)[]): void {
  if (typeof v !== "string" || v.length < 1 || v.length > 100)
    throw invalidForm([...path, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
}

/** Options of one level: ≤ 25, unique names, valid names/descriptions, required first, the nesting rules. */
function checkOptions(options: unknown, path: (string | number)[], level: "command" | "group" | "subcommand"): void {
  if (options === undefined) return;
  if (!Array.isArray(options)) throw invalidForm([...path, "options"], "BASE_TYPE_ARRAY", "Must be an array.");
  if (options.length > 25) throw invalidForm([...path, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
  const names = new Set<string>();
  let optionalSeen = false;
  options.forEach((o: Json, i) => {
    const p = [...path, "options", i];
    const type = o["type"];
    if (typeof type !== "number" || type < 1 || type > 11)
      throw invalidForm([...p, "type"], "BASE_TYPE_CHOICES", "Value must be one of (1…11).");
    checkName(o["name"], p, "OPTION");
    checkDescription(o["description"], p);
    if (names.has(o["name"] as string))
      throw invalidForm([...p, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option name already exists");
    names.add(o["name"] as string);
    const nested = type === 1 || type === 2;
    if (level === "group" && type !== 1)
      throw invalidForm([...p, "type"], "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-command groups may only contain sub-commands");
    if (level === "subcommand" && nested)
      throw invalidForm([...p, "type"], "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands may not contain sub-commands");
    if (nested && o["required"] !== undefined && o["required"] !== false)
      throw invalidForm([...p, "required"], "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Sub-commands and groups cannot be required");
    if (!nested) {
      if (o["required"] === true && optionalSeen)
        throw invalidForm(
          [...p, "required"],
          "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
          "Required options must be placed before non-required options",
        );
      if (o["required"] !== true) optionalSeen = true;
      if (Array.isArray(o["choices"]) && (o["choices"] as unknown[]).length > 25)
        throw invalidForm([...p, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
    } else checkOptions(o["options"], p, type === 2 ? "group" : "subcommand");
  });
  // A level holds either subcommands/groups or value options, never both.
  const kinds = new Set(options.map((o: Json) => (o["type"] === 1 || o["type"] === 2 ? "nested" : "value")));
  if (kinds.size > 1)
    throw invalidForm(
      [...path, "options"],
      "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
      "Sub-command and sub-command group option types are mutually exclusive to all other types",
    );
}

export class DiscordInteractions {
  /** `global` or `guild:<id>` → the registered commands (as returned). */
  readonly commands = new Map<string, Json[]>();
  /** Every accepted bulk overwrite body, in order. */
  readonly overwrites: { scope: string; body: Json[] }[] = [];
  readonly byToken = new Map<string, RecordedInteraction>();

  constructor(
    private readonly o: { applicationId: () => string; now: () => number; snowflake: () => string; botUser: Json; channelOf: () => string },
  ) {}

  /** `PUT|GET /applications/{app}/commands`, `…/guilds/{guild}/commands`; null when the path is not one of these. */
  commandsRoute(method: string, path: string, body: unknown): { status: number; body?: unknown } | null {
    const m = path.match(/^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/);
    if (!m) return null;
    if (m[1] !== this.o.applicationId()) throw new RestError(403, { message: "Missing Access", code: 50001 });
    const scope = m[2] ? `guild:${m[2]}` : "global";
    if (method === "GET") return { status: 200, body: this.commands.get(scope) ?? [] };
    if (method !== "PUT") throw new RestError(405, { message: "405: Method Not Allowed", code: 0 });
    if (!Array.isArray(body)) throw invalidForm([], "BASE_TYPE_ARRAY", "Must be an array.");
    const chatInput = body.filter((c: Json) => (c["type"] ?? 1) === 1);
    if (chatInput.length > 100) throw new RestError(400, { message: "Maximum number of application commands reached (100)", code: 30032 });
    const names = new Set<string>();
    const saved = body.map((c: Json, i) => {
      checkName(c["name"], [i], "COMMAND");
      if ((c["type"] ?? 1) === 1) checkDescription(c["description"], [i]);
      const key = `${c["type"] ?? 1}:${c["name"] as string}`;
      if (names.has(key)) throw invalidForm([i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique");
      names.add(key);
      checkOptions(c["options"], [i], "command");
      return {
        id: this.o.snowflake(),
        application_id: m[1],
        version: this.o.snowflake(),
        default_member_permissions: c["default_member_permissions"] ?? null,
        type: c["type"] ?? 1,
        name: c["name"],
        description: c["description"],
        ...(m[2] ? { guild_id: m[2] } : {}),
        options: c["options"] ?? [],
        contexts: c["contexts"] ?? null,
        integration_types: c["integration_types"] ?? [0],
        nsfw: false,
      };
    });
    this.commands.set(scope, saved);
    this.overwrites.push({ scope, body: body as Json[] });
    return { status: 200, body: saved };
  }

  /**
   * A new interaction (its 3 s and 15 min clocks start now): `type` 2 with `data {name, options}` for a slash
   * command, 3 with `data {custom_id, component_type}` and `message` for a component press. Guild by default.
   */
  create(spec: { type: number; data: Json; userId?: string; guildId?: string | null; channelId?: string; message?: Json }): Json {
    const id = this.o.snowflake();
    const token = `aW50ZXJhY3Rpb246${crypto.randomBytes(24).toString("base64url")}`;
    const user = { id: spec.userId ?? "1300000000000000099", username: "alice", discriminator: "0", global_name: "Alice", avatar: null };
    const guildId = spec.guildId === undefined ? "1300000000000000002" : spec.guildId;
    const channelId = spec.channelId ?? this.o.channelOf();
    const payload: Json = {
      id,
      application_id: this.o.applicationId(),
      type: spec.type,
      data: spec.data,
      ...(guildId
        ? {
            guild_id: guildId,
            guild: { id: guildId, locale: "en-US", features: [] },
            member: { user, roles: [], permissions: "2248473465835073", nick: null },
          }
        : { user }),
      channel_id: channelId,
      channel: { id: channelId, type: guildId ? 0 : 1 },
      token,
      version: 1,
      ...(spec.message ? { message: spec.message } : {}),
      app_permissions: "2248473465835073",
      locale: "en-US",
      entitlements: [],
      authorizing_integration_owners: { "0": guildId ?? "0" },
      context: guildId ? 0 : 1,
      attachment_size_limit: 10485760,
    };
    this.byToken.set(token, {
      id,
      token,
      type: spec.type,
      createdAt: this.o.now(),
      payload,
      response: null,
      refusedCallbacks: [],
      original: null,
      followups: [],
    });
    return payload;
  }

  /** `POST /interactions/{id}/{token}/callback` for an interaction created here; null for tokens this class does not know. */
  callback(id: string, token: string, body: Json): { status: number; body?: unknown } | null {
    const rec = this.byToken.get(token);
    if (!rec) return null;
    const afterMs = this.o.now() - rec.createdAt;
    const refuse = (status: number, code: number, message: string) => {
      rec.refusedCallbacks.push({ code, afterMs });
      return new RestError(status, { message, code });
    };
    if (rec.id !== id || afterMs > INTERACTION_DEADLINE_MS) throw refuse(404, 10062, "Unknown interaction");
    if (rec.response) throw refuse(400, 40060, "Interaction has already been acknowledged.");
    if (!CALLBACK_TYPES.has(body["type"] as number))
      throw invalidForm(["type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.");
    rec.response = { body, afterMs };
    if (body["type"] === 4) rec.original = (body["data"] as Json) ?? {};
    return { status: 204 };
  }

  /** An HTTP endpoint answered the interaction inline (the test relays the endpoint's response here). */
  respondedInline(token: string, body: Json): void {
    const rec = this.byToken.get(token);
    if (!rec) throw new Error("unknown interaction token");
    rec.response = { body, afterMs: this.o.now() - rec.createdAt };
    if (body["type"] === 4) rec.original = (body["data"] as Json) ?? {};
  }

  /** Interaction webhooks for a known token; null for tokens this class does not know. */
  webhook(method: string, appId: string, token: string, target: string | undefined, body: Json): { status: number; body?: unknown } | null {
    const rec = this.byToken.get(token);
    if (!rec) return null;
    if (appId !== this.o.applicationId() || this.o.now() - rec.createdAt > INTERACTION_TOKEN_TTL_MS)
      throw new RestError(404, { message: "Unknown Webhook", code: 10015 });
    if (!rec.response) throw new RestError(404, { message: "Unknown Message", code: 10008 });
    const message = (content: Json): Json => ({
      id: this.o.snowflake(),
      type: 20,
      content: content["content"] ?? "",
      channel_id: rec.payload["channel_id"],
      author: this.o.botUser,
      flags: Number(content["flags"] ?? 0),
      components: content["components"] ?? [],
      embeds: content["embeds"] ?? [],
      webhook_id: appId,
      application_id: appId,
    });
    if (method === "PATCH" && target === "@original") {
      rec.original = { ...(rec.original ?? {}), ...body };
      return { status: 200, body: message(rec.original) };
    }
    if (method === "POST" && target === undefined) {
      rec.followups.push(body);
      return { status: 200, body: message(body) };
    }
    return null;
  }
}

/** An Ed25519 key pair for an HTTP interactions endpoint: the public key as Discord shows it (hex) and a signer. */
export function createInteractionSigner() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const publicKeyHex = (publicKey.export({ format: "der", type: "spki" }) as Buffer).subarray(12).toString("hex");
  return {
    publicKeyHex,
    /** Headers Discord sends: `X-Signature-Ed25519` over timestamp + body, `X-Signature-Timestamp` (unix seconds). */
    sign(body: string, timestampS: number): Record<string, string> {
      const ts = String(timestampS);
      const sig = crypto.sign(null, Buffer.from(ts + body), privateKey).toString("hex");
      return { "content-type": "application/json", "x-signature-ed25519": sig, "x-signature-timestamp": ts };
    },
  };
}

/**
 * Where tau answers a slash command: the reply target of the envelope the connector makes for `interaction` (a
 * deferred, ephemeral `/tau …` command by `userId`), as a job that queues a later reply would store it.
 */
export function slashCommandTarget(interaction: Record<string, unknown>, o: { appId: string; userId: string; text: string }): ReplyTarget {
  return replyTargetOf({
    v: 1,
    event_id: `discord:${interaction["id"] as string}`,
    transport: "discord",
    provider: "discord",
    account_id: o.appId,
    kind: "message",
    conversation_id: interaction["channel_id"] as string,
    thread_id: null,
    chat_type: "group",
    actor: { id: o.userId, display: "Alice", is_bot: false },
    mentions_bot: true,
    text: o.text,
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: 0,
    received_at_ms: 0,
    meta: {
      interaction_id: interaction["id"] as string,
      interaction_token: interaction["token"] as string,
      application_id: o.appId,
      ephemeral: true,
    },
  } satisfies Envelope);
}
