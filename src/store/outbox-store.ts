/**
 * @module Store family: the outbox — one row per reply and one per chunk, their delivery state, receipts, dead
 * letters and replays. Callers group the methods into units of work (`store.atomically`).
 */
import type { Db } from "./db.ts";

export interface OutboxRow {
  outbox_id: string;
  event_id: string | null;
  transport: string;
  account_id: string;
  conversation_id: string;
  thread_id: string | null;
  reply_to: string | null;
  mode: string;
  purpose: string;
  status: string;
  reason: string | null;
  chunk_count: number;
  attempts: number;
  next_attempt_at_ms: number;
  created_at_ms: number;
  updated_at_ms: number;
  /** JSON of the structured reply / delivery action (migration 009); null for plain replies and older rows. */
  rich?: string | null;
}

/** An undelivered outbox row (`dead_letter`, `unknown`, `failed`) with its sent-chunk count and first unsent receipt (JSON text). */
export interface DeadLetterRow extends OutboxRow {
  id: number;
  chunks_sent: number;
  first_receipt: string | null;
}

export interface ChunkRow {
  outbox_id: string;
  idx: number;
  body: string;
  status: string;
  reason: string | null;
  receipt: string | null;
  provider_message_id: string | null;
}

export function createOutboxStore(db: Db) {
  const s = {
    insert: db.prepare(
      "INSERT INTO outbox (outbox_id, event_id, transport, account_id, conversation_id, thread_id, reply_to, mode, purpose, status, reason, chunk_count, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms, rich) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
    ),
    insertChunk: db.prepare(
      "INSERT INTO outbox_chunks (outbox_id, idx, body, status, reason, receipt, provider_message_id, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
    ),
    // Ops alerts (ids 'oa_…') are the watchdog's to deliver, so a stuck runner cannot hold them back.
    // Replies to one conversation go out in order: a row waits while an earlier row of its conversation is still
    // pending but not due (rescheduled after a 429, a rate-limit refusal or pacing).
    pending: db.prepare<[number, number, number], OutboxRow>(
      "SELECT * FROM outbox o WHERE o.status IN ('queued', 'retry_scheduled', 'sending') AND o.next_attempt_at_ms <= ? " +
        "AND NOT (o.outbox_id >= 'oa_' AND o.outbox_id < 'oa`') " +
        "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.transport = o.transport AND e.conversation_id = o.conversation_id " +
        "AND e.account_id = o.account_id AND e.id < o.id AND e.status IN ('queued', 'retry_scheduled', 'sending') " +
        "AND e.next_attempt_at_ms > ? AND NOT (e.outbox_id >= 'oa_' AND e.outbox_id < 'oa`')) ORDER BY o.id LIMIT ?",
    ),
    pendingOpsAlerts: db.prepare<[number, number], OutboxRow>(
      "SELECT * FROM outbox WHERE outbox_id >= 'oa_' AND outbox_id < 'oa`' AND status IN ('queued', 'retry_scheduled', 'sending') " +
        "AND next_attempt_at_ms <= ? ORDER BY id LIMIT ?",
    ),
    countPending: db.prepare<[], number>("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'retry_scheduled', 'sending')").pluck(),
    retriesDue: db
      .prepare<[number], number>("SELECT COUNT(*) FROM outbox WHERE status = 'retry_scheduled' AND next_attempt_at_ms <= ?")
      .pluck(),
    chunksOf: db.prepare<[string], ChunkRow>(
      "SELECT outbox_id, idx, body, status, reason, receipt, provider_message_id FROM outbox_chunks WHERE outbox_id = ? ORDER BY idx",
    ),
    setChunk: db.prepare(
      "UPDATE outbox_chunks SET status = @status, reason = @reason, receipt = @receipt, provider_message_id = COALESCE(@provider_message_id, provider_message_id), updated_at_ms = @now WHERE outbox_id = @outbox_id AND idx = @idx",
    ),
    setRow: db.prepare(
      "UPDATE outbox SET status = @status, reason = @reason, attempts = @attempts, next_attempt_at_ms = @next_attempt_at_ms, updated_at_ms = @now WHERE outbox_id = @outbox_id",
    ),
    get: db.prepare<[string], OutboxRow>("SELECT * FROM outbox WHERE outbox_id = ?"),
    markDryRunChunks: db.prepare<[number, string]>(
      "UPDATE outbox_chunks SET status = 'sent', reason = 'delivery_dry_run', receipt = 'dryrun:' || outbox_id || ':' || idx, updated_at_ms = ? WHERE outbox_id = ? AND status <> 'sent'",
    ),
    markDryRunRow: db.prepare<[number, string]>(
      "UPDATE outbox SET status = 'sent', reason = 'delivery_dry_run', attempts = attempts + 1, next_attempt_at_ms = 0, updated_at_ms = ? WHERE outbox_id = ?",
    ),
    // Answered from the partial index `outbox_attention` (dead_letter, unknown, failed): cheap on every /healthz.
    countInStatus: db.prepare<[string], number>("SELECT COUNT(*) FROM outbox WHERE status = ?").pluck(),
    lastId: db.prepare<[], number>("SELECT COALESCE(MAX(id), 0) FROM outbox").pluck(),
    repliesAfter: db.prepare<[number], number>("SELECT COUNT(*) FROM outbox WHERE id > ? AND purpose <> 'alert'").pluck(),
    deadLetters: db.prepare<[number], DeadLetterRow>(
      "SELECT o.*, (SELECT COUNT(*) FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id AND c.status = 'sent') AS chunks_sent, " +
        "(SELECT c.receipt FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id AND c.status <> 'sent' ORDER BY c.idx LIMIT 1) AS first_receipt " +
        "FROM outbox o WHERE o.status IN ('dead_letter', 'unknown', 'failed') ORDER BY o.id LIMIT ?",
    ),
    replayable: db
      .prepare<[number], string>("SELECT outbox_id FROM outbox WHERE status IN ('dead_letter', 'unknown') ORDER BY id LIMIT ?")
      .pluck(),
    requeueChunks: db.prepare<[number, string]>(
      "UPDATE outbox_chunks SET status = 'queued', updated_at_ms = ? WHERE outbox_id = ? AND status <> 'sent'",
    ),
    chunkByProviderId: db.prepare<[string], Pick<ChunkRow, "outbox_id" | "idx" | "receipt">>(
      "SELECT outbox_id, idx, receipt FROM outbox_chunks WHERE provider_message_id = ? LIMIT 1",
    ),
    setChunkReceipt: db.prepare<[string, number, string, number]>(
      "UPDATE outbox_chunks SET receipt = ?, updated_at_ms = ? WHERE outbox_id = ? AND idx = ?",
    ),
    // Bounded by outbox_by_conversation (transport, conversation_id, created_at_ms): only the recent rows of one chat.
    repliedToEvent: db
      .prepare<[string, string, number, string], number>(
        "SELECT 1 FROM outbox WHERE transport = ? AND conversation_id = ? AND created_at_ms >= ? AND event_id = ? LIMIT 1",
      )
      .pluck(),
  };
  return {
    /** Insert a row (`attempts` 0 unless given: a reply delivered as it is stored counts its one attempt). */
    insert: (
      r: Omit<OutboxRow, "attempts" | "next_attempt_at_ms" | "created_at_ms" | "updated_at_ms"> & { attempts?: number },
      now: number,
    ) =>
      void s.insert.run(
        r.outbox_id,
        r.event_id,
        r.transport,
        r.account_id,
        r.conversation_id,
        r.thread_id,
        r.reply_to,
        r.mode,
        r.purpose,
        r.status,
        r.reason,
        r.chunk_count,
        r.attempts ?? 0,
        now,
        now,
        r.rich ?? null,
      ),
    insertChunk: (r: Omit<ChunkRow, "provider_message_id">, now: number) =>
      void s.insertChunk.run(r.outbox_id, r.idx, r.body, r.status, r.reason, r.receipt, now),
    /** Rows waiting for delivery (queued, retry due, or cut off while sending), oldest first; ops alerts excepted. */
    pending: (now: number, limit: number): OutboxRow[] => s.pending.all(now, now, limit),
    /** Ops alert rows (`oa_…`) waiting for the watchdog's delivery, oldest first. */
    pendingOpsAlerts: (now: number, limit: number): OutboxRow[] => s.pendingOpsAlerts.all(now, limit),
    /** Rows not delivered yet and not given up on (queued, retry_scheduled, sending): `tau_outbox_pending`. */
    countPending: (): number => s.countPending.get() ?? 0,
    /** Rows whose scheduled retry is due at `now` (the runner's `retry_attempted`). */
    retriesDue: (now: number): number => s.retriesDue.get(now) ?? 0,
    chunksOf: (outboxId: string): ChunkRow[] => s.chunksOf.all(outboxId),
    setChunk: (
      c: {
        outbox_id: string;
        idx: number;
        status: string;
        reason: string | null;
        receipt: string | null;
        provider_message_id?: string | null;
      },
      now: number,
    ) => void s.setChunk.run({ provider_message_id: null, ...c, now }),
    setRow: (o: { outbox_id: string; status: string; reason: string | null; attempts: number; next_attempt_at_ms: number }, now: number) =>
      void s.setRow.run({ ...o, now }),
    get: (outboxId: string): OutboxRow | undefined => s.get.get(outboxId),
    /** Every chunk of a dry-run reply is written: mark it sent with its deterministic receipt ids. */
    markDryRunSent: (outboxId: string, now: number) => {
      s.markDryRunChunks.run(now, outboxId);
      s.markDryRunRow.run(now, outboxId);
    },
    /** Undelivered rows (dead_letter, unknown, failed), oldest first, at most `limit`. */
    deadLetters: (limit: number): DeadLetterRow[] => s.deadLetters.all(limit),
    /** Rows in one status (health counts `dead_letter`). */
    countInStatus: (status: "dead_letter" | "unknown" | "failed"): number => s.countInStatus.get(status) ?? 0,
    /** A mark before a run (`tau process --once`): replies written after it are counted by `repliesAfter`. */
    lastId: (): number => s.lastId.get() ?? 0,
    /** Replies (every purpose but ops alerts) written after `mark`, whatever wrote them: pipeline, command job, responder. */
    repliesAfter: (mark: number): number => s.repliesAfter.get(mark) ?? 0,
    /** Ids of the oldest `limit` rows a replay may re-queue (dead_letter, unknown). */
    replayableIds: (limit: number): string[] => s.replayable.all(limit),
    /** Put a row's unsent chunks back in the queue (sent chunks are never resent). */
    requeueUnsentChunks: (outboxId: string, now: number) => void s.requeueChunks.run(now, outboxId),
    /** The chunk a provider knows by `providerMessageId` (delivery receipts), if any. */
    chunkByProviderMessageId: (providerMessageId: string): Pick<ChunkRow, "outbox_id" | "idx" | "receipt"> | undefined =>
      s.chunkByProviderId.get(providerMessageId),
    /** Replace one chunk's receipt (JSON text). */
    setChunkReceipt: (outboxId: string, idx: number, receipt: string, now: number) =>
      void s.setChunkReceipt.run(receipt, now, outboxId, idx),
    /** True when a reply to `eventId` in this chat was queued at or after `sinceMs` (a slash command's later replies). */
    repliedToEvent: (transport: string, conversationId: string, eventId: string, sinceMs: number): boolean =>
      s.repliedToEvent.get(transport, conversationId, sinceMs, eventId) !== undefined,
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
