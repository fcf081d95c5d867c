/**
 * @module Outbound contracts: a reply intent, the outbox row and chunk statuses, the provider request a
 * sender would make, and the `ChannelSender` port each transport implements.
 */
import type { Transport } from "./envelope.ts";

export const OUTBOUND_MODES = ["channel-store", "dry-run", "provider"] as const;
export type OutboundMode = (typeof OUTBOUND_MODES)[number];

/** Outbox and chunk statuses (PRODUCT.md §7). */
export type OutboxStatus = "queued" | "sending" | "sent" | "retry_scheduled" | "failed" | "unknown" | "dead_letter";

/** What a pipeline stage wants said, before it becomes an outbox row. */
export interface ReplyIntent {
  purpose: "responder" | "command" | "pairing" | "approval" | "alert";
  text: string;
  /** Somewhere other than the triggering conversation (a forward); default: reply where the event came from. */
  target?: ReplyTarget;
}

/** Where a reply goes; copied from the triggering envelope or set by a capability (alerts). */
export interface ReplyTarget {
  transport: Transport;
  account_id: string;
  conversation_id: string;
  thread_id: string | null;
  reply_to: string | null;
}

/** The exact HTTP request a provider sender would make, with the token replaced by `<redacted>`. */
export interface ProviderRequest {
  method: "POST" | "GET";
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
}

/** Per-transport outbound port: request shaping (pure) and, in provider mode, sending. */
export interface ChannelSender {
  transport: Transport;
  /** The request for one chunk, without secrets. */
  buildRequest(job: ChunkJob): ProviderRequest;
}
