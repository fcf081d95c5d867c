/**
 * @module Queue replies: one outbox row per reply and one row per chunk, written inside the decision
 * transaction — before anything is sent. In `channel-store` mode recording is the delivery, so the rows
 * are final at once.
 */
import { createHash } from "node:crypto";
import type { OutboundMode, ReplyIntent, ReplyTarget } from "../contracts/outbound.ts";
import type { RunnerStore } from "../store/index.ts";
import { chunkText, effectiveLimit } from "./render.ts";

/** Deterministic outbox id: the same event and reply index always give the same id (replays, receipts). */
export function outboxIdFor(eventId: string, index: number): string {
  return "ob_" + createHash("sha256").update(`${eventId}\u0000${index}`).digest("hex").slice(0, 24);
}

export interface QueueOptions {
  mode: OutboundMode;
  maxChars: number;
  now: number;
}

/** A reply just written to the outbox, with its chunks, so the caller can deliver it without reading it back. */
export interface QueuedReply {
  outbox_id: string;
  event_id: string | null;
  target: ReplyTarget;
  mode: OutboundMode;
  chunks: string[];
}

/** Insert the reply rows; returns the outbox ids. Must run inside the caller's transaction. */
export function queueReplies(
  store: RunnerStore,
  eventId: string | null,
  target: ReplyTarget,
  replies: readonly ReplyIntent[],
  opts: QueueOptions,
  idFor: (index: number) => string = (i) => outboxIdFor(eventId ?? "none", i),
  queued?: QueuedReply[],
): string[] {
  const ids: string[] = [];
  const limit = effectiveLimit(target.transport, opts.maxChars);
  replies.forEach((reply, i) => {
    const outbox_id = idFor(i);
    const chunks = chunkText(reply.text, limit);
    if (chunks.length === 0) return;
    const stored = opts.mode === "channel-store";
    store.insertOutbox(
      {
        outbox_id,
        event_id: eventId,
        ...target,
        mode: opts.mode,
        purpose: reply.purpose,
        status: stored ? "sent" : "queued",
        reason: stored ? "delivery_channel_store" : null,
        chunk_count: chunks.length,
      },
      opts.now,
    );
    chunks.forEach((body, idx) => {
      store.insertChunk(
        { outbox_id, idx, body, status: stored ? "sent" : "queued", reason: stored ? "delivery_channel_store" : null, receipt: null },
        opts.now,
      );
    });
    ids.push(outbox_id);
    if (!stored) queued?.push({ outbox_id, event_id: eventId, target, mode: opts.mode, chunks });
  });
  return ids;
}
