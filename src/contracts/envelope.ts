/**
 * @module The ingress envelope, version 1: one NDJSON line per inbound event. Our most public contract
 * (PRODUCT.md §3); change it only by adding a new version.
 */
import { z } from "zod";

/** Transports tau speaks. Order is stable: it is used for deterministic iteration. */
export const TRANSPORTS = ["telegram", "discord", "whatsapp", "email"] as const;
export const TransportSchema = z.enum(TRANSPORTS);
export type Transport = z.infer<typeof TransportSchema>;

/** What an inbound event is. Non-message kinds are recorded, never answered as text. */
export const EVENT_KINDS = ["message", "edit", "callback", "reaction", "status", "membership", "system"] as const;
export const EventKindSchema = z.enum(EVENT_KINDS);
export type EventKind = z.infer<typeof EventKindSchema>;

/** Always set from the provider payload; channel policy depends on it. */
export const ChatTypeSchema = z.enum(["dm", "group", "channel"]);
export type ChatType = z.infer<typeof ChatTypeSchema>;

export const AttachmentSchema = z
  .object({
    kind: z.enum(["image", "audio", "voice", "video", "document", "sticker", "location", "contact", "other"]),
    mime: z.string().nullable(),
    size: z.number().int().nonnegative().nullable(),
    name: z.string().nullable(),
    /** Provider file reference (Telegram file_id, Discord attachment id, WhatsApp media id). Never a signed URL. */
    ref: z.string().nullable(),
  })
  .strict();
export type Attachment = z.infer<typeof AttachmentSchema>;

export const ActorSchema = z
  .object({
    /** Stable provider id (numeric for Telegram, snowflake for Discord, wa_id for WhatsApp); null when the provider gave none. */
    id: z.string().min(1).nullable(),
    display: z.string().nullable(),
    is_bot: z.boolean(),
  })
  .strict();
export type Actor = z.infer<typeof ActorSchema>;

const MetaValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** Longest text we accept in an envelope (Discord Nitro 4000, email bodies are truncated before this). */
export const MAX_ENVELOPE_TEXT = 65_536;

export const EnvelopeSchema = z
  .object({
    v: z.literal(1),
    /** Globally unique and stable under redelivery, e.g. `telegram:<bot>:u:<update_id>`. */
    event_id: z.string().min(3).max(512),
    transport: TransportSchema,
    provider: z.string().min(1),
    account_id: z.string().min(1),
    kind: EventKindSchema,
    conversation_id: z.string().min(1),
    thread_id: z.string().min(1).nullable(),
    chat_type: ChatTypeSchema,
    actor: ActorSchema,
    /** The event is addressed to the bot: a DM, an @mention, a reply to the bot, or `/cmd@bot`. */
    mentions_bot: z.boolean(),
    text: z.string().max(MAX_ENVELOPE_TEXT),
    attachments: z.array(AttachmentSchema).max(100),
    reply_to: z.string().nullable(),
    forwarded: z.boolean(),
    occurred_at_ms: z.number().int().nonnegative(),
    received_at_ms: z.number().int().nonnegative(),
    meta: z.record(z.string(), MetaValue),
    /** Raw provider payload, only with `--keep-raw` (debugging). */
    raw: z.unknown().optional(),
  })
  .strict();
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** The bot's own identity per transport, from config; normalizers need it for `mentions_bot` and ids. */
export interface BotIdentity {
  telegram: { bot_id: string; username: string };
  discord: { user_id: string; application_id: string };
  whatsapp: { phone_number_id: string };
  email: { account_id: string };
}

/** Input every normalizer takes besides the raw payload: who we are and when the payload arrived. */
export interface NormalizeContext {
  identity: BotIdentity;
  receivedAtMs: number;
  keepRaw?: boolean;
}

/** A provider item that was understood but deliberately not turned into an envelope. */
export interface IgnoredItem {
  code: string;
  detail: string;
}

/**
 * One item of a batched payload (a WhatsApp message in a body of several, one gateway frame, one message of a REST
 * page) refused on its own while the others were normalized: it is quarantined with its reason, never the batch.
 */
export interface RefusedItem {
  code: string;
  detail: string;
  /** The refused item itself (for the quarantine file), when the normalizer has it. */
  raw?: unknown;
}

/**
 * Result of normalizing one raw provider payload: zero or more envelopes (with the items refused one by one in
 * `refused`), or a refusal of the whole payload with a reason code.
 */
export type NormalizeResult =
  { ok: true; envelopes: Envelope[]; ignored: IgnoredItem[]; refused?: RefusedItem[] } | { ok: false; code: string; detail: string };
