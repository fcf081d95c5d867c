/**
 * @module Outbound contracts: a reply intent, the outbox row and chunk statuses, the provider request a
 * sender would make, and the `ChannelSender` port each transport implements.
 */
import type { ChatType, Transport } from "./envelope.ts";
import type { Reply, ReplyButton } from "./reply.ts";

export const OUTBOUND_MODES = ["channel-store", "dry-run", "provider"] as const;
export type OutboundMode = (typeof OUTBOUND_MODES)[number];

/** Outbox and chunk statuses (PRODUCT.md §7). */
export type OutboxStatus = "queued" | "sending" | "sent" | "retry_scheduled" | "failed" | "unknown" | "dead_letter";

/** What a pipeline stage wants said, before it becomes an outbox row. */
export interface ReplyIntent {
  purpose: "responder" | "command" | "pairing" | "approval" | "alert";
  /** The plain-text rendering (what email, chunking and old readers see). */
  text: string;
  /** Somewhere other than the triggering conversation (a forward); default: reply where the event came from. */
  target?: ReplyTarget;
  /** The structured reply `text` was rendered from; each platform renders it in its own markup. */
  reply?: Reply;
  /** Not a new message: answer a button press, edit the prompt, or an interaction follow-up. */
  action?: DeliveryAction;
}

/**
 * A delivery that is not a plain new message (PROVIDERS.md §10):
 * - `answer_callback`: Telegram answerCallbackQuery (`show_alert` for a private answer);
 * - `edit_prompt`: the message the buttons were on shows the outcome and loses its buttons (Telegram
 *   editMessageText; Discord PATCH /webhooks/{app}/{token}/messages/@original);
 * - `followup`: a Discord interaction follow-up (`ephemeral`: flags 64, only the presser sees it).
 */
export type DeliveryAction =
  | { kind: "answer_callback"; callback_id: string; show_alert: boolean }
  | { kind: "edit_prompt"; message_id: string | null; application_id?: string; interaction_token?: string; ephemeral?: boolean }
  | { kind: "followup"; application_id: string; interaction_token: string; ephemeral: boolean };

/** What a button press carried besides its data: enough to answer it and to edit the prompt. */
export interface InteractionRef {
  /** Telegram callback_query id, Discord interaction id, WhatsApp inbound message id. */
  callback_id: string | null;
  /** The message the buttons were on. */
  prompt_message_id: string | null;
  /** Discord: the interaction token and application id (webhook edit / follow-up). */
  interaction_token?: string;
  application_id?: string;
  /** Discord slash command: its deferred response (type 5) is edited with the reply; later chunks are follow-ups. */
  deferred_command?: boolean;
  /** The deferred response is ephemeral (only the invoker sees it), so follow-ups must be too. */
  ephemeral?: boolean;
}

/** Where a reply goes; copied from the triggering envelope or set by a capability (alerts). */
export interface ReplyTarget {
  transport: Transport;
  account_id: string;
  conversation_id: string;
  thread_id: string | null;
  reply_to: string | null;
  /** The chat type of the conversation, when known (WhatsApp groups get no interactive buttons). */
  chat_type?: ChatType;
  /** Set when the reply answers a button press. */
  interaction?: InteractionRef;
}

/** The exact HTTP request a provider sender would make, with the token replaced by `<redacted>`. */
export interface ProviderRequest {
  method: "POST" | "GET" | "PATCH";
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** One chunk to deliver. */
export interface ChunkJob {
  outbox_id: string;
  idx: number;
  chunk_count: number;
  text: string;
  target: ReplyTarget;
  /** This chunk in the platform's markup, with the buttons under it (absent: plain `text`, as before). */
  rich?: RichChunk;
  /** Not a new message (see `DeliveryAction`). */
  action?: DeliveryAction;
}

/** A chunk rendered for its platform by `src/outbound/format-*.ts`. */
export interface RichChunk {
  /** Telegram: "HTML" (plain `text` is the fallback when the server cannot parse the entities); else null. */
  parse_mode: "HTML" | null;
  text: string;
  buttons: ReplyButton[];
}

/** Per-transport outbound port: request shaping (pure) and, in provider mode, sending. */
export interface ChannelSender {
  transport: Transport;
  /** The request for one chunk, without secrets. */
  buildRequest(job: ChunkJob): ProviderRequest;
}
