/**
 * @module Zod schemas for the WhatsApp Cloud API webhook body parts tau reads; loose, Meta adds fields. Only what tau
 * uses is required: a sender may come as a phone (`from`) or only as a business-scoped user id (`from_user_id`,
 * usernames rollout 2026), a group message carries `group_id` (PROVIDERS.md §10.3).
 */
import { z } from "zod";
import { MAX_ENVELOPE_TEXT } from "../../src/contracts/envelope.ts";

/** Unix seconds as a digit string (as Meta sends it; a number is accepted too); 12 digits keeps `* 1000` a safe integer. */
const UnixSecondsString = z.union([
  z.string().regex(/^\d{1,12}$/, "expected unix seconds as a digit string"),
  z.number().int().nonnegative().max(999_999_999_999).transform(String),
]);
const Text = z.string().max(MAX_ENVELOPE_TEXT);
const Wamid = z.string().min(1).max(256);

/** A media object; `url` (signed, newer payloads) is never copied into an envelope. */
const MediaSchema = z.looseObject({
  id: z.string().min(1),
  mime_type: z.string().optional(),
  caption: Text.optional(),
  filename: z.string().optional(),
  file_size: z.number().int().nonnegative().optional(),
  voice: z.boolean().optional(),
});
export type WaMedia = z.infer<typeof MediaSchema>;

export const WaErrorSchema = z.looseObject({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
  href: z.string().optional(),
  timestamp: z.union([UnixSecondsString, z.number().int().nonnegative().max(999_999_999_999)]).optional(),
});
export type WaError = z.infer<typeof WaErrorSchema>;

/** Types whose same-named object is required on the message. */
const TYPED_MESSAGE_FIELDS = [
  "text",
  "image",
  "audio",
  "video",
  "document",
  "sticker",
  "location",
  "contacts",
  "interactive",
  "button",
  "reaction",
] as const;

// A reply id becomes a callback envelope's text (PROVIDERS.md §10.3): bounded like any text, so an oversized one is
// refused with its path instead of building an envelope that fails its schema.
const replySchema = z.looseObject({ id: Text, title: Text });

/**
 * One inbound message (`value.messages[]`); the object named by `type` must be present.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages
 */
export const WaMessageSchema = z
  .looseObject({
    /** The sender's phone (wa_id); omitted for username users, who come with `from_user_id` only. */
    from: z.string().min(1).optional(),
    /** The sender's business-scoped user id (BSUID, `CC.…`). */
    from_user_id: z.string().min(1).max(256).optional(),
    from_parent_user_id: z.string().min(1).max(256).optional(),
    /** Set when the message was sent in a group (Groups API); `from` is then the participant. */
    group_id: z.string().min(1).max(256).optional(),
    id: Wamid,
    timestamp: UnixSecondsString,
    type: z.string().min(1),
    context: z
      .looseObject({
        id: z.string().optional(),
        from: z.string().optional(),
        forwarded: z.boolean().optional(),
        frequently_forwarded: z.boolean().optional(),
        /** Ids mentioned in a group message (phone or BSUID). */
        mentions: z.array(z.string()).optional(),
      })
      .optional(),
    mentions: z.array(z.string()).optional(),
    text: z.looseObject({ body: Text }).optional(),
    image: MediaSchema.optional(),
    audio: MediaSchema.optional(),
    video: MediaSchema.optional(),
    document: MediaSchema.optional(),
    sticker: MediaSchema.optional(),
    location: z
      .looseObject({ latitude: z.number(), longitude: z.number(), name: z.string().optional(), address: z.string().optional() })
      .optional(),
    contacts: z.array(z.looseObject({ name: z.looseObject({ formatted_name: z.string().optional() }).optional() })).optional(),
    interactive: z
      .looseObject({
        type: z.string(),
        button_reply: replySchema.optional(),
        list_reply: replySchema.optional(),
        nfm_reply: z.looseObject({ body: Text.optional(), name: z.string().optional() }).optional(),
      })
      .optional(),
    button: z.looseObject({ text: Text, payload: z.string().optional() }).optional(),
    reaction: z.looseObject({ message_id: Wamid, emoji: z.string().optional() }).optional(),
    system: z
      .looseObject({
        body: Text.optional(),
        type: z.string().optional(),
        /** user_changed_number: the new phone (`wa_id`, legacy `new_wa_id`). */
        wa_id: z.string().optional(),
        new_wa_id: z.string().optional(),
        /** user_changed_user_id: the new BSUID and, since 2026-08, the previous one. */
        user_id: z.string().optional(),
        parent_user_id: z.string().optional(),
        previous_user_id: z.string().optional(),
        previous_parent_user_id: z.string().optional(),
      })
      .optional(),
    unsupported: z.looseObject({ type: z.string().optional() }).optional(),
    errors: z.array(WaErrorSchema).optional(),
  })
  .superRefine((m, issue) => {
    // Someone must have sent it: a phone, a BSUID, or (system messages about an id change) the new id.
    if (m.from === undefined && m.from_user_id === undefined && m.system?.user_id === undefined) {
      issue.addIssue({ code: "custom", path: ["from"], message: "missing (no from, from_user_id or system.user_id)" });
    }
    const field = TYPED_MESSAGE_FIELDS.find((f) => f === m.type);
    if (field !== undefined && m[field] === undefined) {
      issue.addIssue({ code: "custom", path: [field], message: `required for type ${field}` });
    }
  });
export type WaMessage = z.infer<typeof WaMessageSchema>;

/** A delivery receipt for a message we sent (`value.statuses[]`). */
export const WaStatusSchema = z
  .looseObject({
    id: Wamid,
    status: z.string().regex(/^[a-z_]{1,32}$/, "expected a status name"),
    timestamp: UnixSecondsString,
    /** Phone or group id; omitted when the message was sent to a BSUID. */
    recipient_id: z.string().min(1).optional(),
    recipient_user_id: z.string().min(1).optional(),
    recipient_type: z.string().optional(),
    errors: z.array(WaErrorSchema).optional(),
  })
  .superRefine((s, issue) => {
    if (s.recipient_id === undefined && s.recipient_user_id === undefined) {
      issue.addIssue({ code: "custom", path: ["recipient_id"], message: "missing (no recipient_id or recipient_user_id)" });
    }
  });
export type WaStatus = z.infer<typeof WaStatusSchema>;

/** The `value` of a `messages` change: a number's metadata plus messages, statuses or errors. */
export const WaValueSchema = z.looseObject({
  metadata: z.looseObject({ display_phone_number: z.string().optional(), phone_number_id: z.string().min(1).max(64) }),
  contacts: z
    .array(
      z.looseObject({
        wa_id: z.string().optional(),
        user_id: z.string().optional(),
        profile: z.looseObject({ name: z.string().optional(), username: z.string().optional() }).optional(),
      }),
    )
    .optional(),
  // Items are parsed one by one (WaMessageSchema, …) so one bad item is refused alone (per-item refusal).
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.unknown()).optional(),
});
export type WaValue = z.infer<typeof WaValueSchema>;

/** The webhook body: every entry and change must be iterated. */
export const WaWebhookSchema = z.looseObject({
  object: z.literal("whatsapp_business_account"),
  entry: z.array(
    z.looseObject({
      id: z.string().min(1),
      changes: z.array(z.looseObject({ field: z.string().min(1), value: z.unknown() })),
    }),
  ),
});
