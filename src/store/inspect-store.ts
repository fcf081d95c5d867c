/**
 * @module Store family: read-only views for operators — route traces, runtime events, outbox rows and counts by
 * status and reason, denials — as `tau status|events|traces`, `tau replay`, `/metrics` and the demo read them.
 * Nothing here writes; rows are typed as stored (JSON columns stay text, callers parse them). Also names the state
 * database's files, so callers that check or tighten them need not know the storage engine.
 */
import path from "node:path";
import type { Db } from "./db.ts";
import type { EventRow } from "./runner-store.ts";
import { deliveriesByReason, deliveriesByTransport, deniedByReason } from "./metric-counts.ts";

/** The state database's files in `stateDir`: the database first, then its write-ahead log and shared-memory index. */
export function stateDatabaseFiles(stateDir: string): string[] {
  return ["tau.db", "tau.db-wal", "tau.db-shm"].map((f) => path.join(stateDir, f));
}

/** A processed event with its route trace (table `events`), as read back: `decisions` and `route` are JSON text. */
export interface TraceRow extends Omit<EventRow, "decisions" | "route"> {
  seq: number;
  decisions: string;
  route: string | null;
}

/** A runtime event (one per busy runner cycle, plus lifecycle events). `reason_codes` and `detail` are JSON text. */
export interface RuntimeEventRow {
  id: number;
  at_ms: number;
  event: string;
  health: string;
  reason_codes: string;
  detail: string;
}

/** An outbox row as replay summaries show it, with its insertion order `id`. */
export interface ReplyRow {
  id: number;
  outbox_id: string;
  event_id: string | null;
  purpose: string;
  status: string;
  reason: string | null;
  chunk_count: number;
}

/** Where a reply went and how it ended. */
export interface DeliveryRow {
  transport: string;
  status: string;
  reason: string | null;
}

/** An outbox row as `tau export` writes it (no chunk bodies: replies can carry personal data). */
export interface ExportDeliveryRow {
  outbox_id: string;
  event_id: string | null;
  transport: string;
  conversation_id: string;
  mode: string;
  purpose: string;
  status: string;
  reason: string | null;
  chunk_count: number;
  attempts: number;
  created_at_ms: number;
  updated_at_ms: number;
}

const TRACE_COLUMNS =
  "seq, event_id, transport, kind, chat_type, conversation_id, actor_id, occurred_at_ms, processed_at_ms, outcome, reason, decisions, route";

export function createInspectStore(db: Db) {
  const q = {
    outboxByStatus: db.prepare<[], { status: string; n: number }>(
      "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status",
    ),
    runtimeEvents: db.prepare<[number, number, number], RuntimeEventRow>(
      "SELECT id, at_ms, event, health, reason_codes, detail FROM runtime_events WHERE at_ms >= ? AND id > ? ORDER BY id DESC LIMIT ?",
    ),
    trace: db.prepare<[string], TraceRow>(`SELECT ${TRACE_COLUMNS} FROM events WHERE event_id = ?`),
    recentTraces: db.prepare<[number], TraceRow>(`SELECT ${TRACE_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?`),
    tracesAfter: db.prepare<[number], TraceRow>(`SELECT ${TRACE_COLUMNS} FROM events WHERE seq > ? ORDER BY seq`),
    repliesAfter: db.prepare<[number], ReplyRow>(
      "SELECT id, outbox_id, event_id, purpose, status, reason, chunk_count FROM outbox WHERE id > ? ORDER BY id",
    ),
    deliveries: db.prepare<[], DeliveryRow>("SELECT transport, status, reason FROM outbox ORDER BY id"),
    namedEvents: db.prepare<[string, number, number], RuntimeEventRow>(
      "SELECT id, at_ms, event, health, reason_codes, detail FROM runtime_events WHERE event = ? AND at_ms >= ? ORDER BY at_ms DESC, id DESC LIMIT ?",
    ),
    eventsBetween: db.prepare<[number, number], RuntimeEventRow>(
      "SELECT id, at_ms, event, health, reason_codes, detail FROM runtime_events WHERE at_ms >= ? AND at_ms < ? ORDER BY id",
    ),
    tracesBetween: db.prepare<[number, number], TraceRow>(
      `SELECT ${TRACE_COLUMNS} FROM events WHERE processed_at_ms >= ? AND processed_at_ms < ? ORDER BY seq`,
    ),
    outboxBetween: db.prepare<[number, number], ExportDeliveryRow>(
      "SELECT outbox_id, event_id, transport, conversation_id, mode, purpose, status, reason, chunk_count, attempts, created_at_ms, updated_at_ms " +
        "FROM outbox WHERE updated_at_ms >= ? AND created_at_ms < ? ORDER BY id",
    ),
  };
  return {
    /** Outbox rows per status, in status order (`tau status`). */
    outboxByStatus: (): { status: string; n: number }[] => q.outboxByStatus.all(),
    /** Runtime events at or after `sinceMs` with an id above `afterId`: the newest `limit` of them, newest first. */
    runtimeEvents: (o: { sinceMs: number; afterId: number; limit: number }): RuntimeEventRow[] =>
      q.runtimeEvents.all(o.sinceMs, o.afterId, o.limit),
    /** The trace of one event (empty when it was never processed or was pruned). */
    trace: (eventId: string): TraceRow[] => q.trace.all(eventId),
    /** The `limit` most recently processed events, newest first. */
    recentTraces: (limit: number): TraceRow[] => q.recentTraces.all(limit),
    /** Events processed after sequence number `seq`, in processing order. */
    tracesAfter: (seq: number): TraceRow[] => q.tracesAfter.all(seq),
    /** Outbox rows queued after row `id`, in queue order. */
    repliesAfter: (id: number): ReplyRow[] => q.repliesAfter.all(id),
    /** Every reply's transport, status and reason, in queue order. */
    deliveries: (): DeliveryRow[] => q.deliveries.all(),
    /** Denied events per reason code (`/metrics` reads it off the main thread: `store.metricCounts`). */
    deniedByReason: (): Record<string, number> => deniedByReason(db),
    /** Outbox rows per delivery reason code (as above). */
    deliveriesByReason: (): Record<string, number> => deliveriesByReason(db),
    /** Outbox rows per transport and delivery reason code (`tau_deliveries_total{transport,reason}`; as above). */
    deliveriesByTransportAndReason: (): { transport: string; reason: string; n: number }[] => deliveriesByTransport(db),
    /** Runtime events named `event` at or after `sinceMs`, newest first, at most `limit` (health history). */
    runtimeEventsNamed: (event: string, sinceMs: number, limit: number): RuntimeEventRow[] => q.namedEvents.all(event, sinceMs, limit),
    /** Runtime events in [fromMs, toMs), in order (`tau export`). */
    runtimeEventsBetween: (fromMs: number, toMs: number): RuntimeEventRow[] => q.eventsBetween.all(fromMs, toMs),
    /** Traces of events processed in [fromMs, toMs), in order (`tau export`); decisions are stored compactly. */
    tracesBetween: (fromMs: number, toMs: number): TraceRow[] => q.tracesBetween.all(fromMs, toMs),
    /** Outbox rows alive in [fromMs, toMs): created before `toMs`, last changed at or after `fromMs` (`tau export`). */
    deliveriesBetween: (fromMs: number, toMs: number): ExportDeliveryRow[] => q.outboxBetween.all(fromMs, toMs),
  };
}

export type InspectStore = ReturnType<typeof createInspectStore>;
