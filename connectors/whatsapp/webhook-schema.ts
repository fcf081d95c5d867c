/** @module Zod schemas for the WhatsApp Cloud API webhook body parts tau reads; loose, Meta adds fields. */
import { z } from "zod";
import { MAX_ENVELOPE_TEXT } from "../../src/contracts/envelope.ts";

/** Unix seconds as a digit string; 12 digits keeps `* 1000` a safe integer. */
const UnixSecondsString = z.string().regex(/^\d{1,12}$/, "expected unix seconds as a digit string");
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

const ErrorSchema = z.looseObject({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
  href: z.string().optional(),
  timestamp: z.union([UnixSecondsString, z.number().int().nonnegative().max(999_999_999_999)]).optional(),
});
export type WaError = z.infer<typeof ErrorSchema>;

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

const replySchema = z.looseObject({ id: z.string(), title: Text });

/**
 * One inbound message (`value.messages[]`); the object named by `type` must be present.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages
 */
const WaMessageSchema = z
  .looseObject({
    from: z.string().min(1),
    id: Wamid,
    timestamp: UnixSecondsString,
    type: z.string().min(1),
    context: z
      .looseObject({
        id: z.string().optional(),
        from: z.string().optional(),
        forwarded: z.boolean().optional(),
        frequently_forwarded: z.boolean().optional(),
      })
      .optional(),
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
    system: z.looseObject({ body: Text.optional(), type: z.string().optional(), new_wa_id: z.string().optional() }).optional(),
    unsupported: z.looseObject({ type: z.string().optional() }).optional(),
    errors: z.array(ErrorSchema).optional(),
  })
  .superRefine((m, issue) => {
    const field = TYPED_MESSAGE_FIELDS.find((f) => f === m.type);
    if (field !== undefined && m[field] === undefined) {
      issue.addIssue({ code: "custom", path: [field], message: `required for type ${field}` });
    }
  });
export type WaMessage = z.infer<typeof WaMessageSchema>;

/** A delivery receipt for a message we sent (`value.statuses[]`). */
const WaStatusSchema = z.looseObject({
  id: Wamid,
  status: z.string().regex(/^[a-z_]{1,32}$/, "expected a status name"),
  timestamp: UnixSecondsString,
  recipient_id: z.string().min(1),
  errors: z.array(ErrorSchema).optional(),
});
export type WaStatus = z.infer<typeof WaStatusSchema>;

/** The `value` of a `messages` change: a number's metadata plus messages, statuses or errors. */
export const WaValueSchema = z.looseObject({
  metadata: z.looseObject({ display_phone_number: z.string(), phone_number_id: z.string().min(1).max(64) }),
  contacts: z
    .array(z.looseObject({ wa_id: z.string().optional(), profile: z.looseObject({ name: z.string().optional() }).optional() }))
    .optional(),
  messages: z.array(WaMessageSchema).optional(),
  statuses: z.array(WaStatusSchema).optional(),
  errors: z.array(ErrorSchema).optional(),
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
