/** @module Telegram callback_query, my_chat_member and message_reaction updates → envelopes. */
import type { ChatType, Envelope, NormalizeContext } from "../../src/contracts/envelope.ts";
import { baseFields, chatActor, chatTypeOf, userActor } from "./normalize-message.ts";
import { compactMeta } from "../shared/normalize-result.ts";
import type { TgCallbackQuery, TgChatMemberUpdated, TgReactionType, TgReactionUpdated } from "./update-schema.ts";

const PRESENT_STATUSES = new Set(["creator", "administrator", "member", "restricted"]);

/**
 * A button tap → `callback` (text = callback data). CallbackQuery carries no date, so the receive time
 * stands in for occurred_at_ms. @see https://core.telegram.org/bots/api#callbackquery
 */
export function toCallbackEnvelope(q: TgCallbackQuery, updateId: number, ctx: NormalizeContext, raw: unknown): Envelope {
  const message = q.message;
  const inTopic = message?.is_topic_message === true && message.message_thread_id !== undefined;
  return {
    ...baseFields(ctx, updateId, raw),
    kind: "callback",
    conversation_id: message ? String(message.chat.id) : String(q.from.id),
    thread_id: inTopic ? String(message?.message_thread_id) : null,
    chat_type: message ? chatTypeOf(message.chat) : "dm",
    actor: userActor(q.from),
    // Inline keyboards belong to messages the bot sent, so a tap is always addressed to it.
    mentions_bot: true,
    text: q.data ?? q.game_short_name ?? "",
    attachments: [],
    reply_to: message ? String(message.message_id) : null,
    forwarded: false,
    occurred_at_ms: ctx.receivedAtMs,
    meta: compactMeta({
      update_id: updateId,
      update_type: "callback_query",
      callback_query_id: q.id,
      // The callback envelope contract shared by every transport: what to answer, and the message the buttons were on.
      callback_id: q.id,
      prompt_message_id: message?.message_id,
      message_id: message?.message_id,
      inline_message_id: q.inline_message_id,
      chat_instance: q.chat_instance,
      game_short_name: q.game_short_name,
    }),
  };
}

/** Private chats only report block/unblock; groups report the bot being added, removed or changed. */
function membershipChange(chatType: ChatType, oldStatus: string, newStatus: string): string {
  if (chatType === "dm") {
    if (newStatus === "kicked") return "blocked";
    return oldStatus === "kicked" ? "unblocked" : "changed";
  }
  const was = PRESENT_STATUSES.has(oldStatus);
  const is = PRESENT_STATUSES.has(newStatus);
  if (!was && is) return "added";
  if (was && !is) return "removed";
  return "changed";
}

/**
 * The bot's own membership changed → `membership` with meta.old_status/new_status/change/blocked.
 * @see https://core.telegram.org/bots/api#chatmemberupdated
 */
export function toMembershipEnvelope(u: TgChatMemberUpdated, updateId: number, ctx: NormalizeContext, raw: unknown): Envelope {
  const chatType = chatTypeOf(u.chat);
  const oldStatus = u.old_chat_member.status;
  const newStatus = u.new_chat_member.status;
  const change = membershipChange(chatType, oldStatus, newStatus);
  return {
    ...baseFields(ctx, updateId, raw),
    kind: "membership",
    conversation_id: String(u.chat.id),
    thread_id: null,
    chat_type: chatType,
    actor: userActor(u.from),
    // The update is about the bot itself.
    mentions_bot: true,
    text: "",
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: u.date * 1000,
    meta: compactMeta({
      update_id: updateId,
      update_type: "my_chat_member",
      old_status: oldStatus,
      new_status: newStatus,
      change,
      blocked: change === "blocked",
      member_user_id: String(u.new_chat_member.user.id),
      chat_title: u.chat.title,
    }),
  };
}

function reactionLabel(r: TgReactionType): string {
  if (r.type === "emoji") return r.emoji ?? "";
  if (r.type === "custom_emoji") return `custom:${r.custom_emoji_id ?? ""}`;
  return r.type;
}

/**
 * A reaction change on `message_id` → `reaction`; meta.reaction is `added` or `removed` (new list empty), meta.emoji
 * the reaction added (or removed).
 * @see https://core.telegram.org/bots/api#messagereactionupdated
 */
export function toReactionEnvelope(r: TgReactionUpdated, updateId: number, ctx: NormalizeContext, raw: unknown): Envelope {
  const chatType = chatTypeOf(r.chat);
  const added = r.new_reaction.map(reactionLabel);
  const before = r.old_reaction.map(reactionLabel);
  // The update carries the whole before/after lists: an empty new list is a removal; otherwise the new emoji.
  const removed = added.length === 0;
  const emoji = removed ? (before[0] ?? null) : (added.find((e) => !before.includes(e)) ?? added[0] ?? null);
  const actor = r.user ? userActor(r.user) : r.actor_chat ? chatActor(r.actor_chat) : userActor(undefined);
  return {
    ...baseFields(ctx, updateId, raw),
    kind: "reaction",
    conversation_id: String(r.chat.id),
    thread_id: null,
    chat_type: chatType,
    actor,
    mentions_bot: chatType === "dm",
    text: "",
    attachments: [],
    reply_to: String(r.message_id),
    forwarded: false,
    occurred_at_ms: r.date * 1000,
    meta: compactMeta({
      update_id: updateId,
      update_type: "message_reaction",
      message_id: r.message_id,
      emoji,
      reaction: removed ? "removed" : "added",
      new_reaction: added.join(" "),
      old_reaction: before.join(" "),
    }),
  };
}
