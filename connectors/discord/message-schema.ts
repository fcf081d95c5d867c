/** @module Zod schemas for the Discord message objects and gateway dispatch frames tau reads; loose, Discord adds fields. */
import { z } from "zod";
import { MAX_ENVELOPE_TEXT } from "../../src/contracts/envelope.ts";

/** Snowflakes are 64-bit and always strings on the wire. @see https://discord.com/developers/docs/reference#snowflakes */
const Snowflake = z.string().regex(/^\d{1,20}$/, "expected a snowflake string");
/** ISO 8601 timestamp that Date.parse understands. */
const IsoTimestamp = z
  .string()
  .max(64)
  .refine((s) => Number.isSafeInteger(Date.parse(s)) && Date.parse(s) >= 0, "expected an ISO 8601 timestamp");
const Content = z.string().max(MAX_ENVELOPE_TEXT);

/** Only the id is identity; names are display (a payload without them is still a message). */
const AuthorSchema = z.looseObject({
  id: Snowflake,
  username: z.string().optional(),
  global_name: z.string().nullable().optional(),
  bot: z.boolean().optional(),
});

/** Attachment; `url`/`proxy_url` are signed and are never copied into an envelope. */
const AttachmentSchema = z.looseObject({
  id: Snowflake,
  filename: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  content_type: z.string().optional(),
  waveform: z.string().optional(),
});
export type DcAttachment = z.infer<typeof AttachmentSchema>;

const StickerItemSchema = z.looseObject({ id: Snowflake, name: z.string().optional() });
export type DcStickerItem = z.infer<typeof StickerItemSchema>;

/** The message fields of a forward snapshot (content is here, the forwarding message's content is ""). */
const SnapshotSchema = z.looseObject({
  message: z.looseObject({
    content: Content.optional(),
    attachments: z.array(AttachmentSchema).max(100).optional(),
  }),
});

const shape = {
  id: Snowflake,
  channel_id: Snowflake,
  guild_id: Snowflake.optional(),
  channel_type: z.number().int().optional(),
  author: AuthorSchema,
  content: Content.optional(),
  timestamp: IsoTimestamp,
  edited_timestamp: IsoTimestamp.nullable().optional(),
  type: z.number().int().nonnegative(),
  webhook_id: Snowflake.optional(),
  application_id: Snowflake.optional(),
  mentions: z.array(z.looseObject({ id: Snowflake })).optional(),
  attachments: z.array(AttachmentSchema).max(100).optional(),
  sticker_items: z.array(StickerItemSchema).max(10).optional(),
  message_reference: z.looseObject({ type: z.number().int().optional(), message_id: Snowflake.optional() }).optional(),
  message_snapshots: z.array(SnapshotSchema).optional(),
  // absent = not fetched; null = the referenced message was deleted
  referenced_message: z
    .looseObject({ author: z.looseObject({ id: Snowflake }).optional() })
    .nullable()
    .optional(),
};

/**
 * A message object as in MESSAGE_CREATE (message + guild_id?, member?, mentions, channel_type?).
 * @see https://discord.com/developers/docs/events/gateway-events#message-create
 */
export const DcMessageSchema = z.looseObject(shape);
export type DcMessage = z.infer<typeof DcMessageSchema>;

/** MESSAGE_UPDATE: a full message today, historically partial, so author/timestamp/type may be missing. */
export const DcMessageUpdateSchema = z.looseObject({
  ...shape,
  author: AuthorSchema.optional(),
  timestamp: IsoTimestamp.optional(),
  type: z.number().int().nonnegative().optional(),
});
export type DcMessageUpdate = z.infer<typeof DcMessageUpdateSchema>;

/** The first look at an update: enough to tell a real edit from an embed unfurl. */
export const DcUpdateProbeSchema = z.looseObject({
  id: Snowflake,
  channel_id: Snowflake,
  edited_timestamp: IsoTimestamp.nullable().optional(),
});

/** MESSAGE_DELETE payload: ids only. */
export const DcMessageDeleteSchema = z.looseObject({ id: Snowflake, channel_id: Snowflake, guild_id: Snowflake.optional() });
/** MESSAGE_DELETE_BULK: `{ids[], channel_id, guild_id?}`. @see https://discord.com/developers/docs/events/gateway-events#message-delete-bulk */
export const DcMessageDeleteBulkSchema = z.looseObject({
  ids: z.array(Snowflake).min(1).max(1000),
  channel_id: Snowflake,
  guild_id: Snowflake.optional(),
});

/** A gateway payload; dispatches have op 0 with `t` and `s`. @see https://discord.com/developers/docs/events/gateway */
export const DcGatewayFrameSchema = z.looseObject({
  op: z.number().int(),
  t: z.string().nullable().optional(),
  s: z.number().int().nonnegative().nullable().optional(),
  d: z.unknown(),
});

/**
 * MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE: who reacted (`user_id`) with which emoji to which message. Custom
 * emoji have an `id`; unicode emoji only a `name`. `member` (guilds, ADD only) names the user.
 * @see https://discord.com/developers/docs/events/gateway-events#message-reaction-add
 */
export const DcReactionSchema = z.looseObject({
  user_id: Snowflake,
  channel_id: Snowflake,
  message_id: Snowflake,
  guild_id: Snowflake.optional(),
  message_author_id: Snowflake.optional(),
  emoji: z.looseObject({ id: Snowflake.nullable().optional(), name: z.string().nullable().optional() }),
  burst: z.boolean().optional(),
  member: z
    .looseObject({
      nick: z.string().nullable().optional(),
      user: z
        .looseObject({ username: z.string().optional(), global_name: z.string().nullable().optional(), bot: z.boolean().optional() })
        .optional(),
    })
    .optional(),
});
export type DcReaction = z.infer<typeof DcReactionSchema>;
