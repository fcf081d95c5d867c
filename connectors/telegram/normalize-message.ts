/** @module Telegram Message (message, edited_message, channel_post, edited_channel_post) → envelope. */
import type { Actor, Attachment, ChatType, Envelope, NormalizeContext } from "../../src/contracts/envelope.ts";
import { compactMeta } from "../shared/normalize-result.ts";
import type { MetaInput } from "../shared/normalize-result.ts";
import type { TgChat, TgEntity, TgMessage, TgUser } from "./update-schema.ts";

/** `GroupAnonymousBot`: the fake `from` of messages sent by anonymous group admins. */
const ANONYMOUS_ADMIN_USER_ID = 1087968824;

/** Message fields that mark a service message; the first present one is reported as `meta.service`. */
const SERVICE_KEYS = [
  "new_chat_members",
  "left_chat_member",
  "new_chat_title",
  "new_chat_photo",
  "delete_chat_photo",
  "group_chat_created",
  "supergroup_chat_created",
  "channel_chat_created",
  "message_auto_delete_timer_changed",
  "migrate_to_chat_id",
  "migrate_from_chat_id",
  "pinned_message",
  "forum_topic_created",
  "forum_topic_edited",
  "forum_topic_closed",
  "forum_topic_reopened",
  "general_forum_topic_hidden",
  "general_forum_topic_unhidden",
  "video_chat_scheduled",
  "video_chat_started",
  "video_chat_ended",
  "video_chat_participants_invited",
  "write_access_allowed",
  "users_shared",
  "chat_shared",
  "boost_added",
  "chat_background_set",
  "proximity_alert_triggered",
  "successful_payment",
  "refunded_payment",
  "giveaway_created",
  "giveaway_completed",
] as const;

/** The update fields that carry a Message. */
export type MessageUpdateType =
  "message" | "edited_message" | "channel_post" | "edited_channel_post" | "business_message" | "edited_business_message";

/**
 * The conversation of a business message: the customer's chat as seen through one business connection
 * (`business:<business_connection_id>:<chat id>`); the same chat id under two connections is two conversations.
 * @see https://core.telegram.org/bots/api#business_message (PROVIDERS.md §10.1)
 */
export function businessConversationId(businessConnectionId: string, chatId: number): string {
  return `business:${businessConnectionId}:${chatId}`;
}

/** The parts of a business conversation id, or null for an ordinary chat id (replies then send for the account). */
export function parseBusinessConversationId(id: string): { businessConnectionId: string; chatId: string } | null {
  const m = id.match(/^business:(.+):(-?\d{1,20})$/);
  return m ? { businessConnectionId: m[1]!, chatId: m[2]! } : null;
}

/** Envelope fields every Telegram update shares: ids, provider, account, receive time and optional raw. */
export function baseFields(ctx: NormalizeContext, updateId: number, raw: unknown) {
  const botId = ctx.identity.telegram.bot_id;
  return {
    v: 1 as const,
    event_id: `telegram:${botId}:u:${updateId}`,
    transport: "telegram" as const,
    provider: "telegram-bot-api",
    account_id: botId,
    received_at_ms: ctx.receivedAtMs,
    ...(ctx.keepRaw ? { raw } : {}),
  };
}

/**
 * Telegram `chat.type` → envelope chat_type. Without a type (the Bot API's own webhook test samples omit it) the id
 * decides: users are positive (a private chat), groups, supergroups and channels negative — treated as a group,
 * the stricter policy (group rules, mention required).
 */
export function chatTypeOf(chat: TgChat): ChatType {
  if (chat.type === undefined) return chat.id > 0 ? "dm" : "group";
  if (chat.type === "private") return "dm";
  return chat.type === "channel" ? "channel" : "group";
}

function joinName(first: string | undefined, last: string | undefined): string | null {
  const name = [first, last].filter((part) => part !== undefined && part !== "").join(" ");
  return name === "" ? null : name;
}

/** A user as actor: display is the username, else first and last name. */
export function userActor(user: TgUser | undefined): Actor {
  if (!user) return { id: null, display: null, is_bot: false };
  // `is_bot` is not always sent (older servers, library test data): missing means not known to be a bot.
  return { id: String(user.id), display: user.username ?? joinName(user.first_name, user.last_name), is_bot: user.is_bot === true };
}

/** A chat as actor (channel posts, anonymous admins, linked-channel forwards). */
export function chatActor(chat: TgChat): Actor {
  const display = chat.title ?? chat.username ?? joinName(chat.first_name, chat.last_name);
  return { id: String(chat.id), display, is_bot: false };
}

/** A message sent on behalf of a chat carries `sender_chat`; that chat is the real author. */
function messageActor(m: TgMessage, updateType: MessageUpdateType): Actor {
  if (m.sender_chat) return chatActor(m.sender_chat);
  if (!m.from && (updateType === "channel_post" || updateType === "edited_channel_post")) return chatActor(m.chat);
  return userActor(m.from);
}

/**
 * Topic messages carry `reply_to_message` = the topic's `forum_topic_created` message; that is not a reply.
 * @see https://core.telegram.org/bots/api#message (is_topic_message, reply_to_message)
 */
function replyTarget(m: TgMessage): TgMessage["reply_to_message"] | null {
  const reply = m.reply_to_message;
  if (!reply) return null;
  const isTopicRoot = reply.forum_topic_created !== undefined || reply.message_id === m.message_thread_id;
  return m.is_topic_message === true && isTopicRoot ? null : reply;
}

function textAndEntities(m: TgMessage): { text: string; entities: TgEntity[] } {
  if (m.text !== undefined) return { text: m.text, entities: m.entities ?? [] };
  return { text: m.caption ?? "", entities: m.caption_entities ?? [] };
}

/** The bot named after `@` in the first `/command@bot` entity, lower-cased; undefined when none. */
function commandBot(text: string, entities: TgEntity[]): string | undefined {
  const command = entities.find((e) => e.type === "bot_command");
  if (!command) return undefined;
  const at = text.slice(command.offset, command.offset + command.length).split("@")[1];
  return at === undefined || at === "" ? undefined : at.toLowerCase();
}

/** Entity offsets are UTF-16 code units, so `String#slice` is exact. Usernames compare case-insensitively. */
function mentionsBot(m: TgMessage, chatType: ChatType, ctx: NormalizeContext): boolean {
  if (chatType === "dm") return true;
  const { bot_id: botId, username } = ctx.identity.telegram;
  const handle = `@${username.toLowerCase()}`;
  const { text, entities } = textAndEntities(m);
  for (const e of entities) {
    const part = text.slice(e.offset, e.offset + e.length).toLowerCase();
    if (e.type === "mention" && part === handle) return true;
    if (e.type === "text_mention" && e.user !== undefined && String(e.user.id) === botId) return true;
    if (e.type === "bot_command" && part.endsWith(handle)) return true;
  }
  const reply = replyTarget(m);
  return reply?.from !== undefined && String(reply.from.id) === botId;
}

/** The fields every Telegram file object (voice, audio, video, document, sticker…) may carry. */
interface TgFileFields {
  file_id: string;
  file_size?: number | undefined;
  mime_type?: string | undefined;
  file_name?: string | undefined;
}

function file(kind: Attachment["kind"], f: TgFileFields, mime?: string): Attachment {
  return { kind, mime: f.mime_type ?? mime ?? null, size: f.file_size ?? null, name: f.file_name ?? null, ref: f.file_id };
}

/** Media as attachments; refs are file_ids (never download URLs). Photos keep only the largest size. */
function attachmentsOf(m: TgMessage): Attachment[] {
  const out: Attachment[] = [];
  if (m.photo && m.photo.length > 0) {
    const largest = m.photo.reduce((a, b) => (b.width * b.height >= a.width * a.height ? b : a));
    out.push({ kind: "image", mime: "image/jpeg", size: largest.file_size ?? null, name: null, ref: largest.file_id });
  }
  if (m.voice) out.push(file("voice", m.voice));
  if (m.audio) out.push(file("audio", m.audio));
  if (m.video) out.push(file("video", m.video));
  if (m.video_note) out.push(file("video", m.video_note));
  // An animation also fills `document` for backward compatibility; report it once.
  if (m.animation) out.push(file("video", m.animation));
  else if (m.document) out.push(file("document", m.document));
  if (m.sticker) {
    const mime = m.sticker.is_animated ? "application/x-tgsticker" : m.sticker.is_video ? "video/webm" : "image/webp";
    out.push(file("sticker", m.sticker, mime));
  }
  if (m.location) out.push({ kind: "location", mime: null, size: null, name: m.venue?.title ?? null, ref: null });
  if (m.contact) {
    out.push({ kind: "contact", mime: null, size: null, name: joinName(m.contact.first_name, m.contact.last_name), ref: null });
  }
  return out;
}

/** Meta for service messages (kind `system`), or null for ordinary content. */
function serviceMeta(m: TgMessage): MetaInput | null {
  const record = m as Record<string, unknown>;
  const service = SERVICE_KEYS.find((key) => record[key] !== undefined);
  if (service === undefined) return null;
  const idString = (id: number | undefined) => (id === undefined ? undefined : String(id));
  return {
    service,
    migrate_to_chat_id: idString(m.migrate_to_chat_id),
    migrate_from_chat_id: idString(m.migrate_from_chat_id),
    new_chat_member_ids: m.new_chat_members?.map((u) => String(u.id)).join(","),
    left_chat_member_id: idString(m.left_chat_member?.id),
    new_chat_title: m.new_chat_title,
    forum_topic_name: m.forum_topic_created?.name,
    pinned_message_id: m.pinned_message?.message_id,
  };
}

/** One Message-carrying update → envelope: `message`, `edit` or (service messages) `system`. */
export function toMessageEnvelope(
  updateType: MessageUpdateType,
  m: TgMessage,
  updateId: number,
  ctx: NormalizeContext,
  raw: unknown,
): Envelope {
  const isEdit = updateType === "edited_message" || updateType === "edited_channel_post" || updateType === "edited_business_message";
  const business = updateType === "business_message" || updateType === "edited_business_message" ? (m.business_connection_id ?? "") : null;
  const service = isEdit ? null : serviceMeta(m);
  const chatType = chatTypeOf(m.chat);
  const { text, entities } = textAndEntities(m);
  const reply = replyTarget(m);
  const forwarded =
    m.forward_origin !== undefined ||
    m.forward_from !== undefined ||
    m.forward_from_chat !== undefined ||
    m.forward_sender_name !== undefined ||
    m.is_automatic_forward === true;
  return {
    ...baseFields(ctx, updateId, raw),
    kind: isEdit ? "edit" : service ? "system" : "message",
    conversation_id: business !== null ? businessConversationId(business, m.chat.id) : String(m.chat.id),
    thread_id: m.is_topic_message === true && m.message_thread_id !== undefined ? String(m.message_thread_id) : null,
    chat_type: chatType,
    actor: messageActor(m, updateType),
    mentions_bot: mentionsBot(m, chatType, ctx),
    text,
    attachments: attachmentsOf(m),
    reply_to: reply ? String(reply.message_id) : null,
    forwarded,
    occurred_at_ms: (isEdit ? (m.edit_date ?? m.date) : m.date) * 1000,
    meta: compactMeta({
      update_id: updateId,
      update_type: updateType,
      message_id: m.message_id,
      chat_title: m.chat.title,
      media_group_id: m.media_group_id,
      anonymous_admin: m.from?.id === ANONYMOUS_ADMIN_USER_ID ? true : undefined,
      command_bot: commandBot(text, entities),
      business_connection_id: business ?? undefined,
      chat_id: business !== null ? String(m.chat.id) : undefined,
      ...service,
    }),
  };
}
