/**
 * @module Dead letters: replies that ran out of attempts (`dead_letter`), whose fate is unknown (`unknown`:
 * an ambiguous send the operator must judge) or that failed for good (`failed`). `replay` puts dead_letter and
 * unknown rows back in the queue at their first unsent chunk with fresh attempts; sent chunks are never resent.
 */
import type { Store } from "../store/index.ts";

export interface DeadLetter {
  outbox_id: string;
  event_id: string | null;
  transport: string;
  conversation_id: string;
  purpose: string;
  status: string;
  reason: string | null;
  attempts: number;
  chunk_count: number;
  chunks_sent: number;
  /** The last recorded send error (code, HTTP status, redacted detail), when any. */
  last_error: { code: string; status: number | null; detail: string } | null;
  updated_at_ms: number;
  replayable: boolean;
}

/** Statuses `replay` re-queues. */
export const REPLAYABLE_STATUSES = ["dead_letter", "unknown"] as const;

/** Undelivered rows, oldest first. */
export function listDeadLetters(store: Pick<Store, "outbox">, opts: { limit?: number } = {}): DeadLetter[] {
  return store.outbox.deadLetters(opts.limit ?? 1000).map((r) => {
    let last_error: DeadLetter["last_error"] = null;
    try {
      last_error = r.first_receipt ? ((JSON.parse(r.first_receipt) as { last_error?: DeadLetter["last_error"] }).last_error ?? null) : null;
    } catch {
      last_error = null;
    }
    return {
      outbox_id: r.outbox_id,
      event_id: r.event_id,
      transport: r.transport,
      conversation_id: r.conversation_id,
      purpose: r.purpose,
      status: r.status,
      reason: r.reason,
      attempts: r.attempts,
      chunk_count: r.chunk_count,
      chunks_sent: r.chunks_sent,
      last_error,
      updated_at_ms: r.updated_at_ms,
      replayable: (REPLAYABLE_STATUSES as readonly string[]).includes(r.status),
    };
  });
}

/** Re-queue up to `limit` dead_letter/unknown rows (oldest first) in one unit of work; returns their ids. */
export function replayDeadLetters(
  store: Pick<Store, "outbox" | "counters" | "atomically">,
  opts: { limit: number; now: number },
): string[] {
  return store.atomically(() => {
    const ids = store.outbox.replayableIds(opts.limit);
    for (const id of ids) {
      store.outbox.requeueUnsentChunks(id, opts.now);
      store.outbox.setRow({ outbox_id: id, status: "queued", reason: "deadletter_replayed", attempts: 0, next_attempt_at_ms: 0 }, opts.now);
    }
    if (ids.length) store.counters.bump("deliveries.replayed", ids.length);
    return ids;
  });
}
