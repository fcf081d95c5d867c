/**
 * @module Zod schemas for the parts of Telegram Bot API updates tau reads; loose, because Telegram adds fields, and
 * requiring only what tau uses: an update whose user lacks `is_bot` or `first_name` is still an update.
 */
import { z } from "zod";
import { MAX_ENVELOPE_TEXT } from "../../src/contracts/envelope.ts";

/**
 * Chat and user ids: supergroup/channel ids (-100…) exceed 32 bits, so safe integers, never int32.
 * @see https://core.telegram.org/bots/api#chat
 */
const Id = z.number().int();
/** Unix seconds, bounded so that `* 1000` stays a safe integer. */
const UnixSeconds = z
  .number()
  .int()
  .nonnegative()
  .max(Math.floor(Number.MAX_SAFE_INTEGER / 1000));
const Text = z.string().max(MAX_ENVELOPE_TEXT);
const FileSize = z.number().int().nonnegative().optional();

/** A Telegram `User`; only `id` is used as identity (`is_bot` missing = not known to be a bot). */
const TgUserSchema = z.looseObject({
  id: Id,
  is_bot: z.boolean().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  username: z.string().optional(),
});
export type TgUser = z.infer<typeof TgUserSchema>;

/** A Telegram `Chat` (also used for `sender_chat`). */
const TgChatSchema = z.looseObject({
  id: Id,
  /** Absent in some samples (core.telegram.org/bots/webhooks); the id sign decides then (`chatTypeOf`). */
  type: z.enum(["private", "group", "supergroup", "channel"]).optional(),
  title: z.string().optional(),
  username: z.string().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
});
export type TgChat = z.infer<typeof TgChatSchema>;

/** `MessageEntity`; offset and length are UTF-16 code units. @see https://core.telegram.org/bots/api#messageentity */
const EntitySchema = z.looseObject({
  type: z.string(),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
  user: TgUserSchema.optional(),
});
export type TgEntity = z.infer<typeof EntitySchema>;

const FileSchema = z.looseObject({
  file_id: z.string().min(1),
  file_size: FileSize,
  mime_type: z.string().optional(),
  file_name: z.string().optional(),
});
const PhotoSizeSchema = FileSchema.extend({ width: z.number().int().nonnegative(), height: z.number().int().nonnegative() });
const StickerSchema = FileSchema.extend({ is_animated: z.boolean().optional(), is_video: z.boolean().optional() });

/** The replied-to message: only what `reply_to` and `mentions_bot` need. */
const ReplySchema = z.looseObject({
  message_id: Id,
  from: TgUserSchema.optional(),
  forum_topic_created: z.unknown().optional(),
});

/** A Telegram `Message` (message, edited_message, channel_post, edited_channel_post). */
const TgMessageSchema = z.looseObject({
  message_id: Id,
  message_thread_id: Id.optional(),
  from: TgUserSchema.optional(),
  sender_chat: TgChatSchema.optional(),
  date: UnixSeconds,
  chat: TgChatSchema,
  edit_date: UnixSeconds.optional(),
  is_topic_message: z.boolean().optional(),
  is_automatic_forward: z.boolean().optional(),
  forward_origin: z.unknown().optional(),
  forward_from: z.unknown().optional(),
  forward_from_chat: z.unknown().optional(),
  forward_sender_name: z.unknown().optional(),
  reply_to_message: ReplySchema.optional(),
  media_group_id: z.string().optional(),
  text: Text.optional(),
  entities: z.array(EntitySchema).optional(),
  caption: Text.optional(),
  caption_entities: z.array(EntitySchema).optional(),
  photo: z.array(PhotoSizeSchema).optional(),
  voice: FileSchema.optional(),
  audio: FileSchema.optional(),
  video: FileSchema.optional(),
  video_note: FileSchema.optional(),
  animation: FileSchema.optional(),
  document: FileSchema.optional(),
  sticker: StickerSchema.optional(),
  location: z.looseObject({ latitude: z.number(), longitude: z.number() }).optional(),
  venue: z.looseObject({ title: z.string() }).optional(),
  contact: z.looseObject({ first_name: z.string().optional(), last_name: z.string().optional() }).optional(),
  new_chat_members: z.array(TgUserSchema).optional(),
  left_chat_member: TgUserSchema.optional(),
  new_chat_title: z.string().optional(),
  migrate_to_chat_id: Id.optional(),
  migrate_from_chat_id: Id.optional(),
  forum_topic_created: z.looseObject({ name: z.string() }).optional(),
  pinned_message: z.looseObject({ message_id: Id }).optional(),
  /** Business messages: the connection the message belongs to, and the bot that sent it for the account (outgoing). */
  business_connection_id: z.string().min(1).max(256).optional(),
  sender_business_bot: TgUserSchema.optional(),
});
export type TgMessage = z.infer<typeof TgMessageSchema>;

/** `CallbackQuery`; `message` may be an inaccessible message (date 0), which still has chat and id. */
const CallbackQuerySchema = z.looseObject({
  id: z.string().min(1),
  from: TgUserSchema,
  message: z
    .looseObject({
      message_id: Id,
      chat: TgChatSchema,
      message_thread_id: Id.optional(),
      is_topic_message: z.boolean().optional(),
    })
    .optional(),
  inline_message_id: z.string().optional(),
  chat_instance: z.string().optional(),
  data: Text.optional(),
  game_short_name: z.string().optional(),
});
export type TgCallbackQuery = z.infer<typeof CallbackQuerySchema>;

const ChatMemberSchema = z.looseObject({ status: z.string().min(1), user: TgUserSchema });
/** `ChatMemberUpdated` as delivered in `my_chat_member`. */
const ChatMemberUpdatedSchema = z.looseObject({
  chat: TgChatSchema,
  from: TgUserSchema,
  date: UnixSeconds,
  old_chat_member: ChatMemberSchema,
  new_chat_member: ChatMemberSchema,
});
export type TgChatMemberUpdated = z.infer<typeof ChatMemberUpdatedSchema>;

const ReactionTypeSchema = z.looseObject({
  type: z.string(),
  emoji: z.string().optional(),
  custom_emoji_id: z.string().optional(),
});
export type TgReactionType = z.infer<typeof ReactionTypeSchema>;
/** `MessageReactionUpdated`: `user` or `actor_chat` (anonymous) reacted to `message_id` in `chat`. */
const ReactionUpdatedSchema = z.looseObject({
  chat: TgChatSchema,
  message_id: Id,
  user: TgUserSchema.optional(),
  actor_chat: TgChatSchema.optional(),
  date: UnixSeconds,
  old_reaction: z.array(ReactionTypeSchema).default([]),
  new_reaction: z.array(ReactionTypeSchema).default([]),
});
export type TgReactionUpdated = z.infer<typeof ReactionUpdatedSchema>;

/** An `Update`: `update_id` plus exactly one payload field; unknown payload fields pass through untouched. */
export const TgUpdateSchema = z.looseObject({
  update_id: z.number().int().nonnegative(),
  message: TgMessageSchema.optional(),
  edited_message: TgMessageSchema.optional(),
  channel_post: TgMessageSchema.optional(),
  edited_channel_post: TgMessageSchema.optional(),
  callback_query: CallbackQuerySchema.optional(),
  my_chat_member: ChatMemberUpdatedSchema.optional(),
  message_reaction: ReactionUpdatedSchema.optional(),
  /** A message of a connected Telegram Business account (the bot acts for the account). */
  business_message: TgMessageSchema.optional(),
  edited_business_message: TgMessageSchema.optional(),
});
export type TgUpdate = z.infer<typeof TgUpdateSchema>;

/** A `getUpdates` response as returned by the Bot API. */
export const TgGetUpdatesResponseSchema = z.looseObject({ ok: z.literal(true), result: z.array(z.unknown()) });
