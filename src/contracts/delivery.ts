/**
 * @module Delivery contracts for provider mode: what one send of one chunk came to (`SendOutcome`, a value,
 * never a thrown SDK error), the per-transport `ProviderSender` port (send, and an optional typing indicator), and
 * the receipt lattice that status webhooks move along (PRODUCT.md §7).
 */
import type { Transport } from "./envelope.ts";
import type { ChunkJob, ReplyTarget } from "./outbound.ts";
import type { DeliveryCode } from "./reason-codes.ts";

/** Delivery codes a failed send can carry (every delivery code but the three success codes). */
export type DeliveryFailureCode = Exclude<DeliveryCode, "delivery_sent" | "delivery_dry_run" | "delivery_channel_store">;

/** A failed send. `detail` is for operators and never contains a token (senders redact it). */
export interface SendFailure {
  ok: false;
  code: DeliveryFailureCode;
  /** Sending the same request again later may succeed and cannot duplicate the message. */
  retryable: boolean;
  /** The request may have reached the provider: it may or may not have been delivered. */
  ambiguous: boolean;
  /** The wait the provider asked for (429 `retry_after` / `Retry-After`), else null. */
  retry_after_ms: number | null;
  /** HTTP status, when a response arrived. */
  status: number | null;
  detail: string;
  /** Telegram `delivery_chat_migrated`: the supergroup id to send to instead. */
  migrate_to?: string;
}

/** The result of sending one chunk. */
export type SendOutcome = { ok: true; provider_message_id: string } | SendFailure;

/**
 * The result of one typing-indicator call. `detail` never contains a token. There is no `retryable`: a typing
 * indicator is never retried (PROVIDERS.md §9.6).
 */
export type TypingOutcome = { ok: true } | { ok: false; code: DeliveryFailureCode; status: number | null; detail: string };

/** A send refused before any request left (`delivery_request_rejected`): nothing to retry, nothing in doubt. */
export function rejectedBeforeSend(detail: string): SendFailure {
  return {
    ok: false,
    code: "delivery_request_rejected",
    retryable: false,
    ambiguous: false,
    retry_after_ms: null,
    status: null,
    detail: detail.slice(0, 300),
  };
}

/** A failed send as a typing outcome (same code, status and redacted detail). */
export function typingFailure(f: SendFailure): TypingOutcome {
  return { ok: false, code: f.code, status: f.status, detail: f.detail };
}

/**
 * How often a caller re-sends the typing indicator while a reply is being prepared, in ms; null = send it once
 * (PROVIDERS.md §9.6).
 * - Telegram: `sendChatAction` shows "for 5 seconds or less" and a bot message clears it → every 4 s.
 * - Discord: `POST /channels/{id}/typing` "expires after 10 seconds" → every 8 s.
 * - WhatsApp: the indicator lasts until the reply or 25 s, and the same call marks the inbound message read,
 *   which is done once → null.
 */
export const TYPING_REFRESH_MS: Record<"telegram" | "discord" | "whatsapp", number | null> = {
  telegram: 4000,
  discord: 8000,
  whatsapp: null,
};

/** Per-transport sender used by provider mode; each SDK is imported in its connector folder only. */
export interface ProviderSender {
  transport: Transport;
  /**
   * True when re-sending a request whose fate is unknown cannot create a second message (Discord `nonce` +
   * `enforce_nonce`), so an ambiguous send may be retried.
   */
  idempotent: boolean;
  send(job: ChunkJob): Promise<SendOutcome>;
  /**
   * Show "typing…" in the conversation of `target` (WhatsApp: and mark `inboundMessageId`, the wamid of the
   * message being answered, read). A best-effort hint: never retried, never blocks a reply, never throws — a
   * failure comes back as an outcome to log. Absent on transports without one (email).
   */
  typing?(target: ReplyTarget, inboundMessageId: string | null): Promise<TypingOutcome>;
}

/** Receipt states of a sent chunk, in lattice order; `failed` is terminal (PROVIDERS.md §3.5). */
export const RECEIPT_STATES = ["sent", "delivered", "read", "failed"] as const;
export type ReceiptState = (typeof RECEIPT_STATES)[number];

/** What `outbox_chunks.receipt` holds in provider mode (JSON). */
export interface ProviderReceipt {
  /** Lattice state of an accepted chunk; null while the provider has not accepted it. */
  state: ReceiptState | null;
  at_ms: number;
  /** Provider error code of a `failed` status webhook, when given. */
  error_code?: number | string;
  /** The last failed send of this chunk (code, HTTP status, redacted detail). */
  last_error?: { code: DeliveryFailureCode; status: number | null; detail: string };
}

/** Why an online credential probe failed (PRODUCT.md §8 `probe_online_<transport>_<kind>`). */
export const PROBE_FAILURE_KINDS = ["auth_failed", "rate_limited", "provider_unavailable", "timeout", "transport_error"] as const;
export type ProbeFailureKind = (typeof PROBE_FAILURE_KINDS)[number];

/** The result of one online probe (`getMe`, `GET /users/@me`, `GET /{phone_number_id}`). */
export type ProbeOutcome = { ok: true; detail: string } | { ok: false; kind: ProbeFailureKind; status: number | null; detail: string };

/** Map an HTTP status of a failed probe to its kind: 401/403 and other 4xx mean the credential or id is wrong. */
export function probeKindForStatus(status: number): ProbeFailureKind {
  if (status === 429) return "rate_limited";
  if (status >= 500) return "provider_unavailable";
  return "auth_failed";
}
