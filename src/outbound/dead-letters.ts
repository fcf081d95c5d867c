/**
 * @module Dead letters: replies that ran out of attempts (`dead_letter`), whose fate is unknown (`unknown`:
 * an ambiguous send the operator must judge) or that failed for good (`failed`). `replay` puts dead_letter and
 * unknown rows back in the queue at their first unsent chunk with fresh attempts; sent chunks are never resent.
 */
import type { Db, Store } from "../store/index.ts";

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
export function listDeadLetters(db: Db, opts: { limit?: number } = {}): DeadLetter[] {
  const rows = db
    .prepare(
      "SELECT o.*, (SELECT COUNT(*) FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id AND c.status = 'sent') AS chunks_sent, " +
        "(SELECT c.receipt FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id AND c.status <> 'sent' ORDER BY c.idx LIMIT 1) AS first_receipt " +
        "FROM outbox o WHERE o.status IN ('dead_letter', 'unknown', 'failed') ORDER BY o.id LIMIT ?",
    )
    .all(opts.limit ?? 1000) as (Record<string, unknown> & { first_receipt: string | null })[];
  return rows.map((r) => {
    let last_error: DeadLetter["last_error"] = null;
    try {
      last_error = r.first_receipt ? ((JSON.parse(r.first_receipt) as { last_error?: DeadLetter["last_error"] }).last_error ?? null) : null;
    } catch {
      last_error = null;
    }
    return {
      outbox_id: r.outbox_id as string,
      event_id: r.event_id as string | null,
      transport: r.transport as string,
      conversation_id: r.conversation_id as string,
      purpose: r.purpose as string,
      status: r.status as string,
      reason: r.reason as string | null,
      attempts: r.attempts as number,
      chunk_count: r.chunk_count as number,
      chunks_sent: r.chunks_sent as number,
      last_error,
      updated_at_ms: r.updated_at_ms as number,
      replayable: (REPLAYABLE_STATUSES as readonly string[]).includes(r.status as string),
    };
  });
}

/** Re-queue up to `limit` dead_letter/unknown rows (oldest first) in one transaction; returns their ids. */
export function replayDeadLetters(store: Store, opts: { limit: number; now: number }): string[] {
  return store.db.transaction(() => {
    const ids = store.db
      .prepare("SELECT outbox_id FROM outbox WHERE status IN ('dead_letter', 'unknown') ORDER BY id LIMIT ?")
      .pluck()
      .all(opts.limit) as string[];
    const requeueChunks = store.db.prepare("UPDATE outbox_chunks SET status = 'queued', updated_at_ms = ? WHERE outbox_id = ? AND status <> 'sent'");
    for (const id of ids) {
      requeueChunks.run(opts.now, id);
      store.outbox.setRow({ outbox_id: id, status: "queued", reason: "deadletter_replayed", attempts: 0, next_attempt_at_ms: 0 }, opts.now);
    }
    if (ids.length) store.counters.bump("deliveries.replayed", ids.length);
    return ids;
  })();
}
