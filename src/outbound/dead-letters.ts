/**
 * @module Dead letters: replies that may have been delivered (`unknown`: an ambiguous send the operator must judge),
 * that ran out of attempts (`dead_letter`), or that failed for good (`failed`). An ambiguous row comes with its
 * evidence — what was sent, when, and what came back — because replaying it may deliver it twice. `replay` puts
 * dead_letter rows back in the queue at their first unsent chunk with fresh attempts; unknown rows only when the
 * operator asks for them (`includeAmbiguous`). Sent chunks are never resent.
 */
import type { Store } from "../store/index.ts";

/** Why a reply is undelivered, for the operator: may have arrived / gave up / refused. */
export type DeadLetterKind = "ambiguous" | "exhausted" | "failed";

const KIND_OF: Record<string, DeadLetterKind> = { unknown: "ambiguous", dead_letter: "exhausted", failed: "failed" };

/** The last recorded send error of a chunk (code, HTTP status, redacted detail). */
export interface LastError {
  code: string;
  status: number | null;
  detail: string;
}

/** What an ambiguous send was: the chunk that may have arrived, when it was sent, and what came back. */
export interface AmbiguousEvidence {
  chunk: number;
  chunk_count: number;
  /** The chunk's text exactly as it was sent. */
  text: string;
  /** When the send failed (the receipt's time), ms since the epoch. */
  sent_at_ms: number | null;
  error: LastError | null;
}

export interface DeadLetter {
  outbox_id: string;
  event_id: string | null;
  transport: string;
  conversation_id: string;
  purpose: string;
  status: string;
  kind: DeadLetterKind;
  reason: string | null;
  attempts: number;
  chunk_count: number;
  chunks_sent: number;
  /** The last recorded send error (code, HTTP status, redacted detail), when any. */
  last_error: LastError | null;
  /** Ambiguous rows only: the evidence the operator judges by. */
  evidence: AmbiguousEvidence | null;
  updated_at_ms: number;
  /** `replay` can re-queue it (an ambiguous row only with `--include-ambiguous`). */
  replayable: boolean;
}

/** Statuses `replay` re-queues; `unknown` only when asked to (`includeAmbiguous`). */
export const REPLAYABLE_STATUSES = ["dead_letter", "unknown"] as const;

/** How many undelivered rows a replay looks through to pick its `limit`. */
const REPLAY_SCAN = 100_000;

function parseReceipt(receipt: string | null): { at_ms?: number; last_error?: LastError } {
  if (!receipt) return {};
  try {
    return JSON.parse(receipt) as { at_ms?: number; last_error?: LastError };
  } catch {
    return {};
  }
}

/** The chunk an ambiguous row left `unknown` (or, for older rows, its first unsent chunk) as evidence. */
function evidenceOf(store: Pick<Store, "outbox">, outboxId: string, chunkCount: number): AmbiguousEvidence | null {
  const chunks = store.outbox.chunksOf(outboxId);
  const c = chunks.find((x) => x.status === "unknown") ?? chunks.find((x) => x.status !== "sent");
  if (!c) return null;
  const r = parseReceipt(c.receipt);
  return { chunk: c.idx, chunk_count: chunkCount, text: c.body, sent_at_ms: r.at_ms ?? null, error: r.last_error ?? null };
}

/** Undelivered rows, oldest first. */
export function listDeadLetters(store: Pick<Store, "outbox">, opts: { limit?: number } = {}): DeadLetter[] {
  return store.outbox.deadLetters(opts.limit ?? 1000).map((r) => {
    const kind = KIND_OF[r.status] ?? "failed";
    return {
      outbox_id: r.outbox_id,
      event_id: r.event_id,
      transport: r.transport,
      conversation_id: r.conversation_id,
      purpose: r.purpose,
      status: r.status,
      kind,
      reason: r.reason,
      attempts: r.attempts,
      chunk_count: r.chunk_count,
      chunks_sent: r.chunks_sent,
      last_error: parseReceipt(r.first_receipt).last_error ?? null,
      evidence: kind === "ambiguous" ? evidenceOf(store, r.outbox_id, r.chunk_count) : null,
      updated_at_ms: r.updated_at_ms,
      replayable: (REPLAYABLE_STATUSES as readonly string[]).includes(r.status),
    };
  });
}

/** Whether `replay` takes a row of this status now. */
export function replayTakes(status: string, includeAmbiguous: boolean): boolean {
  return status === "dead_letter" || (includeAmbiguous && status === "unknown");
}

/**
 * Re-queue up to `limit` dead_letter rows (and unknown ones with `includeAmbiguous`), oldest first, in one unit of
 * work; returns their ids.
 */
export function replayDeadLetters(
  store: Pick<Store, "outbox" | "counters" | "atomically">,
  opts: { limit: number; now: number; includeAmbiguous?: boolean; only?: string },
): string[] {
  return store.atomically(() => {
    const ids = store.outbox
      .deadLetters(REPLAY_SCAN)
      .filter((r) => replayTakes(r.status, opts.includeAmbiguous ?? false) && (opts.only === undefined || r.outbox_id === opts.only))
      .slice(0, opts.limit)
      .map((r) => r.outbox_id);
    for (const id of ids) {
      store.outbox.requeueUnsentChunks(id, opts.now);
      store.outbox.setRow({ outbox_id: id, status: "queued", reason: "deadletter_replayed", attempts: 0, next_attempt_at_ms: 0 }, opts.now);
    }
    if (ids.length) store.counters.bump("deliveries.replayed", ids.length);
    return ids;
  });
}
