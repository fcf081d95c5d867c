/**
 * @module Store family: the watchdog's alerts — per alert key whether it is on, since when, whether this episode was
 * posted and when a post last went out (dedupe and cooldown), and the log of every alert message queued, with the
 * outbox rows that carry it to the ops chats. Ops alert rows in the outbox have ids starting `oa_`.
 */
import type { Db } from "./db.ts";

/** One alert key's state. */
export interface AlertStateRow {
  alert_key: string;
  kind: string;
  severity: string;
  firing: boolean;
  since_ms: number;
  /** The current episode was posted (false while a cooldown holds it back, or after recovery). */
  notified: boolean;
  last_notified_at_ms: number;
  summary: string;
}

/** One alert message the watchdog queued. `outbox_ids` is a JSON array of outbox ids (one per ops chat). */
export interface OpsAlertRow {
  id: number;
  at_ms: number;
  alert_key: string;
  kind: string;
  severity: string;
  transition: "firing" | "changed" | "recovered";
  health: string;
  text: string;
  outbox_ids: string;
}

/** An ops alert whose outbox row is not delivered yet (held by a kill switch, retrying, dead-lettered). */
export interface UndeliveredAlertRow {
  outbox_id: string;
  status: string;
  reason: string | null;
  attempts: number;
  transport: string;
  conversation_id: string;
  created_at_ms: number;
  text: string;
}

/** Outbox ids of ops alerts start with this (the runner leaves them to the watchdog's own delivery). */
export const OPS_ALERT_ID_PREFIX = "oa_";

type StoredState = Omit<AlertStateRow, "firing" | "notified"> & { firing: number; notified: number };

export function createAlertStore(db: Db) {
  const q = {
    all: db.prepare<[], StoredState>("SELECT * FROM alert_state ORDER BY alert_key"),
    put: db.prepare(
      "INSERT INTO alert_state (alert_key, kind, severity, firing, since_ms, notified, last_notified_at_ms, summary) " +
        "VALUES (@alert_key, @kind, @severity, @firing, @since_ms, @notified, @last_notified_at_ms, @summary) " +
        "ON CONFLICT(alert_key) DO UPDATE SET kind = excluded.kind, severity = excluded.severity, firing = excluded.firing, " +
        "since_ms = excluded.since_ms, notified = excluded.notified, last_notified_at_ms = excluded.last_notified_at_ms, summary = excluded.summary",
    ),
    insertAlert: db.prepare(
      "INSERT INTO ops_alerts (at_ms, alert_key, kind, severity, transition, health, text, outbox_ids) " +
        "VALUES (@at_ms, @alert_key, @kind, @severity, @transition, @health, @text, @outbox_ids)",
    ),
    recent: db.prepare<[number], OpsAlertRow>("SELECT * FROM ops_alerts ORDER BY id DESC LIMIT ?"),
    between: db.prepare<[number, number], OpsAlertRow>("SELECT * FROM ops_alerts WHERE at_ms >= ? AND at_ms < ? ORDER BY id"),
    counts: db.prepare<[], { severity: string; transition: string; n: number }>(
      "SELECT severity, transition, COUNT(*) AS n FROM ops_alerts GROUP BY severity, transition",
    ),
    countUndelivered: db
      .prepare<[], number>("SELECT COUNT(*) FROM outbox WHERE outbox_id >= 'oa_' AND outbox_id < 'oa`' AND status <> 'sent'")
      .pluck(),
    // Undelivered: anything but sent. The outbox id range 'oa_'…'oa`' is the prefix, so the primary key index answers it.
    undelivered: db.prepare<[number], UndeliveredAlertRow>(
      "SELECT o.outbox_id, o.status, o.reason, o.attempts, o.transport, o.conversation_id, o.created_at_ms, " +
        "(SELECT group_concat(c.body, '' ORDER BY c.idx) FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id) AS text " +
        "FROM outbox o WHERE o.outbox_id >= 'oa_' AND o.outbox_id < 'oa`' AND o.status <> 'sent' ORDER BY o.outbox_id LIMIT ?",
    ),
  };
  const toRow = (r: StoredState): AlertStateRow => ({ ...r, firing: r.firing === 1, notified: r.notified === 1 });
  return {
    /** Every alert key's state, by key. */
    states: (): AlertStateRow[] => q.all.all().map(toRow),
    /** Record one key's state. */
    putState: (r: AlertStateRow): void => void q.put.run({ ...r, firing: r.firing ? 1 : 0, notified: r.notified ? 1 : 0 }),
    /** Log an alert message (inside the unit of work that queued its outbox rows). */
    insert: (r: Omit<OpsAlertRow, "id">): void => void q.insertAlert.run(r),
    /** The most recent `limit` alerts, newest first. */
    recent: (limit: number): OpsAlertRow[] => q.recent.all(limit),
    /** Alerts queued in [fromMs, toMs), oldest first. */
    between: (fromMs: number, toMs: number): OpsAlertRow[] => q.between.all(fromMs, toMs),
    /** Alerts queued per severity and transition, all time (`tau_alerts_total`). */
    counts: (): { severity: string; transition: string; n: number }[] => q.counts.all(),
    /** Ops alert outbox rows not delivered yet (`tau_alerts_undelivered`). */
    countUndelivered: (): number => q.countUndelivered.get() ?? 0,
    /** Ops alert outbox rows not delivered yet, oldest first (`tau status`). */
    undelivered: (limit: number): UndeliveredAlertRow[] => q.undelivered.all(limit),
  };
}

export type AlertStore = ReturnType<typeof createAlertStore>;
