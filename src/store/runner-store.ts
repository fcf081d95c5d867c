/**
 * @module Prepared statements for the runner: cursors, processed events (dedupe + traces), outbox rows
 * and chunks, counters, key/value state and runtime events. Callers group them into transactions.
 */
import type { Db } from "./db.ts";

export interface CursorRow {
  transport: string;
  file_ino: number;
  byte_offset: number;
  line_no: number;
}

export interface EventRow {
  event_id: string;
  transport: string;
  kind: string;
  chat_type: string;
  conversation_id: string;
  actor_id: string | null;
  occurred_at_ms: number;
  processed_at_ms: number;
  outcome: string;
  reason: string;
  decisions: string;
  route: string | null;
}

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

/** Build the runner's statements once; every method is a single prepared statement. */
export function createRunnerStore(db: Db) {
  const s = {
    getCursor: db.prepare<[string], CursorRow>("SELECT transport, file_ino, byte_offset, line_no FROM ingress_cursors WHERE transport = ?"),
    putCursor: db.prepare(
      "INSERT INTO ingress_cursors (transport, file_ino, byte_offset, line_no, updated_at_ms) VALUES (@transport, @file_ino, @byte_offset, @line_no, @now) " +
        "ON CONFLICT(transport) DO UPDATE SET file_ino = excluded.file_ino, byte_offset = excluded.byte_offset, line_no = excluded.line_no, updated_at_ms = excluded.updated_at_ms",
    ),
    hasEvent: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM events WHERE event_id = ?").pluck(),
    insertEvent: db.prepare(
      "INSERT INTO events (event_id, transport, kind, chat_type, conversation_id, actor_id, occurred_at_ms, processed_at_ms, outcome, reason, decisions, route) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    // seq grows with processing time, so the oldest rows are a prefix of the table: no index on time needed.
    pruneEvents: db.prepare("DELETE FROM events WHERE seq < (SELECT COALESCE(MIN(seq), 0) FROM (SELECT seq FROM events WHERE processed_at_ms >= ? ORDER BY seq LIMIT 1))"),
    insertOutbox: db.prepare(
      "INSERT INTO outbox (outbox_id, event_id, transport, account_id, conversation_id, thread_id, reply_to, mode, purpose, status, reason, chunk_count, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
    ),
    insertChunk: db.prepare("INSERT INTO outbox_chunks (outbox_id, idx, body, status, reason, receipt, provider_message_id, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)"),
    pendingOutbox: db.prepare<[number, number], OutboxRow>(
      "SELECT * FROM outbox WHERE status IN ('queued', 'retry_scheduled', 'sending') AND next_attempt_at_ms <= ? ORDER BY id LIMIT ?",
    ),
    chunksOf: db.prepare<[string], ChunkRow>("SELECT outbox_id, idx, body, status, reason, receipt, provider_message_id FROM outbox_chunks WHERE outbox_id = ? ORDER BY idx"),
    setChunk: db.prepare(
      "UPDATE outbox_chunks SET status = @status, reason = @reason, receipt = @receipt, provider_message_id = COALESCE(@provider_message_id, provider_message_id), updated_at_ms = @now WHERE outbox_id = @outbox_id AND idx = @idx",
    ),
    setOutbox: db.prepare(
      "UPDATE outbox SET status = @status, reason = @reason, attempts = @attempts, next_attempt_at_ms = @next_attempt_at_ms, updated_at_ms = @now WHERE outbox_id = @outbox_id",
    ),
    getOutbox: db.prepare<[string], OutboxRow>("SELECT * FROM outbox WHERE outbox_id = ?"),
    markDryRunChunks: db.prepare<[number, string]>(
      "UPDATE outbox_chunks SET status = 'sent', reason = 'delivery_dry_run', receipt = 'dryrun:' || outbox_id || ':' || idx, updated_at_ms = ? WHERE outbox_id = ? AND status <> 'sent'",
    ),
    markDryRunRow: db.prepare<[number, string]>("UPDATE outbox SET status = 'sent', reason = 'delivery_dry_run', attempts = attempts + 1, next_attempt_at_ms = 0, updated_at_ms = ? WHERE outbox_id = ?"),
    bumpCounter: db.prepare("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"),
    counters: db.prepare<[], { name: string; value: number }>("SELECT name, value FROM counters ORDER BY name"),
    getKv: db.prepare<[string], string>("SELECT value FROM kv WHERE key = ?").pluck(),
    putKv: db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    insertRuntimeEvent: db.prepare("INSERT INTO runtime_events (at_ms, event, health, reason_codes, detail) VALUES (?, ?, ?, ?, ?)"),
    lastResponder: db.prepare<[string], number>("SELECT last_responder_at_ms FROM conversation_state WHERE conversation_key = ?").pluck(),
    putResponder: db.prepare(
      "INSERT INTO conversation_state (conversation_key, last_responder_at_ms) VALUES (?, ?) ON CONFLICT(conversation_key) DO UPDATE SET last_responder_at_ms = excluded.last_responder_at_ms",
    ),
    insertQuarantine: db.prepare("INSERT INTO quarantine (transport, file, line_no, reason, detail, at_ms) VALUES (?, ?, ?, ?, ?, ?)"),
  };
  return {
    /** Ingress cursors, processed events (dedupe + traces), quarantine, runtime events, responder state. */
    runner: {
      cursor: (transport: string): CursorRow | undefined => s.getCursor.get(transport),
      putCursor: (c: CursorRow, now: number) => void s.putCursor.run({ ...c, now }),
      hasEvent: (eventId: string): boolean => s.hasEvent.get(eventId) !== undefined,
      insertEvent: (r: EventRow) =>
        void s.insertEvent.run(r.event_id, r.transport, r.kind, r.chat_type, r.conversation_id, r.actor_id, r.occurred_at_ms, r.processed_at_ms, r.outcome, r.reason, r.decisions, r.route),
      pruneEvents: (beforeMs: number): number => s.pruneEvents.run(beforeMs).changes,
      insertRuntimeEvent: (atMs: number, event: string, health: string, reasonCodes: string[], detail: Record<string, unknown>) =>
        void s.insertRuntimeEvent.run(atMs, event, health, JSON.stringify(reasonCodes), JSON.stringify(detail)),
      lastResponderAt: (key: string): number | undefined => s.lastResponder.get(key),
      putResponderAt: (key: string, atMs: number) => void s.putResponder.run(key, atMs),
      insertQuarantine: (transport: string, file: string, line: number, reason: string, detail: string, atMs: number) =>
        void s.insertQuarantine.run(transport, file, line, reason, detail, atMs),
    },
    /** Outbox rows and their chunks. */
    outbox: {
      insert: (r: Omit<OutboxRow, "attempts" | "next_attempt_at_ms" | "created_at_ms" | "updated_at_ms">, now: number) =>
        void s.insertOutbox.run(r.outbox_id, r.event_id, r.transport, r.account_id, r.conversation_id, r.thread_id, r.reply_to, r.mode, r.purpose, r.status, r.reason, r.chunk_count, now, now),
      insertChunk: (r: Omit<ChunkRow, "provider_message_id">, now: number) => void s.insertChunk.run(r.outbox_id, r.idx, r.body, r.status, r.reason, r.receipt, now),
      pending: (now: number, limit: number): OutboxRow[] => s.pendingOutbox.all(now, limit),
      chunksOf: (outboxId: string): ChunkRow[] => s.chunksOf.all(outboxId),
      setChunk: (c: { outbox_id: string; idx: number; status: string; reason: string | null; receipt: string | null; provider_message_id?: string | null }, now: number) =>
        void s.setChunk.run({ provider_message_id: null, ...c, now }),
      setRow: (o: { outbox_id: string; status: string; reason: string | null; attempts: number; next_attempt_at_ms: number }, now: number) =>
        void s.setOutbox.run({ ...o, now }),
      get: (outboxId: string): OutboxRow | undefined => s.getOutbox.get(outboxId),
      /** Every chunk of a dry-run reply is written: mark it sent with its deterministic receipt ids. */
      markDryRunSent: (outboxId: string, now: number) => {
        s.markDryRunChunks.run(now, outboxId);
        s.markDryRunRow.run(now, outboxId);
      },
    },
    /** Named counters (events processed, deliveries by reason, commands by reason). */
    counters: {
      bump: (name: string, by = 1) => void s.bumpCounter.run(name, by),
      all: (): Record<string, number> => Object.fromEntries(s.counters.all().map((r) => [r.name, r.value])),
    },
    /** Key-value state: runner state, connector status, lifecycle, policy versions. */
    kv: {
      get: (key: string): string | undefined => s.getKv.get(key),
      put: (key: string, value: string) => void s.putKv.run(key, value),
    },
  };
}

export type RunnerStore = ReturnType<typeof createRunnerStore>;
