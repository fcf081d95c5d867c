/** @module Discord message objects (MESSAGE_CREATE / MESSAGE_UPDATE) → envelopes. */
import type { Actor, Attachment, ChatType, Envelope, NormalizeContext } from "../../src/contracts/envelope.ts";
import type { DcAttachment, DcMessage, DcMessageUpdate, DcStickerItem } from "./message-schema.ts";
import { compactMeta } from "../shared/normalize-result.ts";

/** Message types that carry user content: DEFAULT, REPLY, CHAT_INPUT_COMMAND, THREAD_STARTER_MESSAGE, CONTEXT_MENU_COMMAND. */
const CONTENT_MESSAGE_TYPES = new Set([0, 19, 20, 21, 23]);
/**
 * ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD.
 * @see https://discord.com/developers/docs/resources/channel#channel-object-channel-types
 */
const THREAD_CHANNEL_TYPES = new Set([10, 11, 12]);
const ANNOUNCEMENT_CHANNEL_TYPE = 5;
const FORWARD_REFERENCE_TYPE = 1;

/** Where the payload came from: a gateway dispatch frame (seq and event name) or a bare message object. */
export interface FrameInfo {
  seq?: number | null | undefined;
  event?: string | undefined;
}

/** Envelope fields every Discord event shares. */
export function baseFields(ctx: NormalizeContext, eventId: string, raw: unknown) {
  return {
    v: 1 as const,
    event_id: eventId,
    transport: "discord" as const,
    provider: "discord",
    account_id: ctx.identity.discord.user_id,
    received_at_ms: ctx.receivedAtMs,
    ...(ctx.keepRaw ? { raw } : {}),
  };
}

/** No guild → DM; announcement channels → channel; guild text channels and threads → group. */
export function chatTypeOf(guildId: string | undefined, channelType: number | undefined): ChatType {
  if (guildId === undefined) return "dm";
  return channelType === ANNOUNCEMENT_CHANNEL_TYPE ? "channel" : "group";
}

/** Gateway bookkeeping shared by every envelope built from a frame. */
export function frameMeta(frame: FrameInfo) {
  return { gateway_seq: frame.seq ?? undefined, gateway_event: frame.event };
}

function attachmentOf(a: DcAttachment): Attachment {
  const mime = a.content_type ?? null;
  let kind: Attachment["kind"] = "document";
  if (a.waveform !== undefined) kind = "voice";
  else if (mime?.startsWith("image/")) kind = "image";
  else if (mime?.startsWith("audio/")) kind = "audio";
  else if (mime?.startsWith("video/")) kind = "video";
  // ref is the attachment id: the url is signed and expires.
  return { kind, mime, size: a.size ?? null, name: a.filename ?? null, ref: a.id };
}

function stickerOf(s: DcStickerItem): Attachment {
  return { kind: "sticker", mime: null, size: null, name: s.name ?? null, ref: s.id };
}

function actorOf(m: DcMessage | DcMessageUpdate): Actor {
  if (!m.author) return { id: null, display: null, is_bot: false };
  const display = m.author.global_name ?? m.author.username ?? null;
  return { id: m.author.id, display, is_bot: m.author.bot === true || m.webhook_id !== undefined };
}

/** In guilds: the bot is in mentions[], its `<@id>`/`<@!id>` token is in the content, or the message replies to it. */
function mentionsBot(m: DcMessage | DcMessageUpdate, chatType: ChatType, botId: string): boolean {
  if (chatType === "dm") return true;
  if (m.mentions?.some((user) => user.id === botId)) return true;
  const content = m.content ?? "";
  if (content.includes(`<@${botId}>`) || content.includes(`<@!${botId}>`)) return true;
  return m.referenced_message?.author?.id === botId;
}

/**
 * MESSAGE_CREATE → `message` (system message types → `system`); with `edit`, MESSAGE_UPDATE → `edit` keyed
 * by edited_timestamp. Forwards (message_reference.type 1) take content from message_snapshots[0].
 */
export function toMessageEnvelope(
  m: DcMessage | DcMessageUpdate,
  mode: "create" | "edit",
  ctx: NormalizeContext,
  frame: FrameInfo,
  raw: unknown,
): Envelope {
  const chatType = chatTypeOf(m.guild_id, m.channel_type);
  const reference = m.message_reference;
  const forwarded = reference?.type === FORWARD_REFERENCE_TYPE;
  const snapshot = forwarded ? m.message_snapshots?.[0]?.message : undefined;
  const editedAt = m.edited_timestamp ?? undefined;
  const isEdit = mode === "edit" && editedAt !== undefined;
  const at = isEdit ? editedAt : m.timestamp;
  const attachments = [...(m.attachments ?? []), ...(snapshot?.attachments ?? [])].map(attachmentOf);
  const kind = isEdit ? "edit" : m.type === undefined || CONTENT_MESSAGE_TYPES.has(m.type) ? "message" : "system";
  return {
    ...baseFields(ctx, isEdit ? `discord:${m.id}:e:${editedAt}` : `discord:${m.id}`, raw),
    kind,
    conversation_id: m.channel_id,
    thread_id: m.channel_type !== undefined && THREAD_CHANNEL_TYPES.has(m.channel_type) ? m.channel_id : null,
    chat_type: chatType,
    actor: actorOf(m),
    mentions_bot: mentionsBot(m, chatType, ctx.identity.discord.user_id),
    text: forwarded ? (snapshot?.content ?? "") : (m.content ?? ""),
    attachments: [...attachments, ...(m.sticker_items ?? []).map(stickerOf)].slice(0, 100),
    reply_to: reference && (reference.type ?? 0) === 0 ? (reference.message_id ?? null) : null,
    forwarded,
    occurred_at_ms: at === undefined ? ctx.receivedAtMs : Date.parse(at),
    meta: compactMeta({
      message_id: m.id,
      guild_id: m.guild_id,
      channel_type: m.channel_type,
      message_type: m.type,
      webhook_id: m.webhook_id,
      application_id: m.application_id,
      reply_deleted: m.referenced_message === null ? true : undefined,
      ...frameMeta(frame),
    }),
  };
}
