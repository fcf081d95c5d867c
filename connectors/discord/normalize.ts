/** @module Pure Discord normalizer: a message object, a gateway dispatch frame (messages, reactions), or an array of either → envelopes. */
import type { Envelope, IgnoredItem, NormalizeContext, NormalizeResult, RefusedItem } from "../../src/contracts/envelope.ts";
import {
  DcGatewayFrameSchema,
  DcMessageDeleteBulkSchema,
  DcMessageDeleteSchema,
  DcMessageSchema,
  DcMessageUpdateSchema,
  DcReactionSchema,
  DcUpdateProbeSchema,
} from "./message-schema.ts";
import { baseFields, chatTypeOf, frameMeta, toMessageEnvelope } from "./normalize-message.ts";
import type { FrameInfo } from "./normalize-message.ts";
import { compactMeta, finalize, refuse, refusedItem, refuseZod } from "../shared/normalize-result.ts";
import type { Refusal } from "../shared/normalize-result.ts";

type Path = (string | number)[];
type ItemResult = Envelope | IgnoredItem | Refusal;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function createEnvelope(d: unknown, path: Path, ctx: NormalizeContext, frame: FrameInfo, raw: unknown): ItemResult {
  const parsed = DcMessageSchema.safeParse(d);
  if (!parsed.success) return refuseZod(parsed.error, d, path);
  return toMessageEnvelope(parsed.data, "create", ctx, frame, raw);
}

/** MESSAGE_UPDATE also fires for embed unfurls, which have no edited_timestamp: those are not edits. */
function updateEnvelope(d: unknown, path: Path, ctx: NormalizeContext, frame: FrameInfo, raw: unknown): ItemResult {
  const probe = DcUpdateProbeSchema.safeParse(d);
  if (!probe.success) return refuseZod(probe.error, d, path);
  if (!probe.data.edited_timestamp) {
    return { code: "discord_update_without_edit", detail: `message ${probe.data.id}: no edited_timestamp` };
  }
  const parsed = DcMessageUpdateSchema.safeParse(d);
  if (!parsed.success) return refuseZod(parsed.error, d, path);
  return toMessageEnvelope(parsed.data, "edit", ctx, frame, raw);
}

/** MESSAGE_DELETE carries ids only, so the time is the receive time and there is no actor. */
function deleteEnvelope(d: unknown, path: Path, ctx: NormalizeContext, frame: FrameInfo, raw: unknown): ItemResult {
  const parsed = DcMessageDeleteSchema.safeParse(d);
  if (!parsed.success) return refuseZod(parsed.error, d, path);
  const del = parsed.data;
  const chatType = chatTypeOf(del.guild_id, undefined);
  return {
    ...baseFields(ctx, `discord:${del.id}:d`, raw),
    kind: "system",
    conversation_id: del.channel_id,
    thread_id: null,
    chat_type: chatType,
    actor: { id: null, display: null, is_bot: false },
    mentions_bot: chatType === "dm",
    text: "",
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: ctx.receivedAtMs,
    meta: compactMeta({ action: "message_delete", message_id: del.id, guild_id: del.guild_id, ...frameMeta(frame) }),
  };
}

/** MESSAGE_DELETE_BULK (a moderator purge): one delete per id, with the same event ids single deletes get. */
function deleteBulkEnvelopes(d: unknown, path: Path, ctx: NormalizeContext, frame: FrameInfo, raw: unknown): ItemResult | ItemResult[] {
  const parsed = DcMessageDeleteBulkSchema.safeParse(d);
  if (!parsed.success) return refuseZod(parsed.error, d, path);
  const { ids, channel_id, guild_id } = parsed.data;
  return ids.map((id) => {
    const one = deleteEnvelope({ id, channel_id, ...(guild_id ? { guild_id } : {}) }, path, ctx, frame, raw);
    return "event_id" in one ? { ...one, meta: { ...one.meta, action: "message_delete_bulk" } } : one;
  });
}

/**
 * MESSAGE_REACTION_ADD/REMOVE → `reaction` on `message_id` (meta.reaction `added`/`removed`, meta.emoji). Reactions
 * carry no id of their own: the event id names message, user, emoji, action and the gateway sequence (so adding,
 * removing and adding again are three events, and a resumed session's replay is the same event).
 * @see https://discord.com/developers/docs/events/gateway-events#message-reaction-add
 */
function reactionEnvelope(d: unknown, path: Path, ctx: NormalizeContext, frame: FrameInfo, raw: unknown, added: boolean): ItemResult {
  const parsed = DcReactionSchema.safeParse(d);
  if (!parsed.success) return refuseZod(parsed.error, d, path);
  const r = parsed.data;
  const chatType = chatTypeOf(r.guild_id, undefined);
  const emoji = r.emoji.id ? `custom:${r.emoji.name ?? ""}:${r.emoji.id}` : (r.emoji.name ?? "");
  const action = added ? "added" : "removed";
  const user = r.member?.user;
  return {
    ...baseFields(ctx, `discord:${r.message_id}:r:${r.user_id}:${emoji}:${action}${frame.seq == null ? "" : `:s${frame.seq}`}`, raw),
    kind: "reaction",
    conversation_id: r.channel_id,
    thread_id: null,
    chat_type: chatType,
    actor: { id: r.user_id, display: r.member?.nick ?? user?.global_name ?? user?.username ?? null, is_bot: user?.bot === true },
    // In a guild, a reaction is addressed to the bot when it reacts to the bot's own message.
    mentions_bot: chatType === "dm" || r.message_author_id === ctx.identity.discord.user_id,
    text: "",
    attachments: [],
    reply_to: r.message_id,
    forwarded: false,
    occurred_at_ms: ctx.receivedAtMs,
    meta: compactMeta({
      message_id: r.message_id,
      reaction: action,
      emoji,
      emoji_id: r.emoji.id ?? undefined,
      burst: r.burst,
      guild_id: r.guild_id,
      message_author_id: r.message_author_id,
      ...frameMeta(frame),
    }),
  };
}

/**
 * A gateway payload: dispatches MESSAGE_CREATE/UPDATE/DELETE/DELETE_BULK and MESSAGE_REACTION_ADD/REMOVE are
 * normalized, anything else is ignored.
 * @see https://discord.com/developers/docs/events/gateway-events#receive-events
 */
function frameEnvelope(rawFrame: unknown, path: Path, ctx: NormalizeContext): ItemResult | ItemResult[] {
  const parsed = DcGatewayFrameSchema.safeParse(rawFrame);
  if (!parsed.success) return refuseZod(parsed.error, rawFrame, path);
  const { op, t, s, d } = parsed.data;
  if (op !== 0) return { code: "discord_event_type_unsupported", detail: `gateway op ${op}` };
  const frame: FrameInfo = { seq: s, event: t ?? undefined };
  const dPath = [...path, "d"];
  if (t === "MESSAGE_CREATE") return createEnvelope(d, dPath, ctx, frame, rawFrame);
  if (t === "MESSAGE_UPDATE") return updateEnvelope(d, dPath, ctx, frame, rawFrame);
  if (t === "MESSAGE_DELETE") return deleteEnvelope(d, dPath, ctx, frame, rawFrame);
  if (t === "MESSAGE_DELETE_BULK") return deleteBulkEnvelopes(d, dPath, ctx, frame, rawFrame);
  if (t === "MESSAGE_REACTION_ADD") return reactionEnvelope(d, dPath, ctx, frame, rawFrame, true);
  if (t === "MESSAGE_REACTION_REMOVE") return reactionEnvelope(d, dPath, ctx, frame, rawFrame, false);
  return { code: "discord_event_type_unsupported", detail: `dispatch ${t ?? "(null)"}${s == null ? "" : ` s=${s}`}` };
}

/**
 * Normalize a raw Discord payload: a bare message object (treated as MESSAGE_CREATE), a gateway frame,
 * or an array of them (a REST page). Pure: no I/O, no clock. event_id is `discord:<message id>`.
 */
export function normalizeDiscordPayload(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  if (!ctx.identity.discord?.user_id) return refuse("ingress_identity_missing", "identity.discord.user_id: empty");
  const items: { raw: unknown; path: Path }[] = Array.isArray(raw)
    ? Array.from(raw, (item: unknown, i) => ({ raw: item, path: [i] }))
    : [{ raw, path: [] }];
  const envelopes: Envelope[] = [];
  const ignored: IgnoredItem[] = [];
  const refused: RefusedItem[] = [];
  // Per item: one bad message of a REST page or batch is refused alone, the others still become envelopes.
  for (const item of items) {
    const out =
      isRecord(item.raw) && "op" in item.raw
        ? frameEnvelope(item.raw, item.path, ctx)
        : createEnvelope(item.raw, item.path, ctx, {}, item.raw);
    for (const one of Array.isArray(out) ? out : [out]) {
      if ("ok" in one) refused.push(refusedItem(one, item.raw));
      else if ("event_id" in one) envelopes.push(one);
      else ignored.push(one);
    }
  }
  return finalize(envelopes, ignored, refused);
}
