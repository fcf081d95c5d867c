/**
 * @module Store family: incident records (the operations runbook's evidence: timestamp, scope, trigger, failure mode,
 * containment, rollback or kill-switch action, verification, operator, follow-up) and their action log, each log row
 * naming the audit row written with it. Callers write both inside one unit of work.
 */
import type { Db } from "./db.ts";

export type IncidentStatus = "open" | "contained" | "verified" | "closed";

/** One incident as stored. */
export interface IncidentRow {
  seq: number;
  incident_id: string;
  status: IncidentStatus;
  severity: string;
  scope: string;
  trigger_source: string;
  failure_mode: string;
  containment: string | null;
  rollback_action: string | null;
  verification: string | null;
  verification_result: string | null;
  owner: string;
  follow_up: string | null;
  opened_at_ms: number;
  updated_at_ms: number;
  closed_at_ms: number | null;
}

/** One action on an incident. `detail` is JSON text. */
export interface IncidentLogRow {
  seq: number;
  incident_id: string;
  at_ms: number;
  actor: string;
  action: string;
  detail: string;
  audit_seq: number;
  audit_hash: string;
}

export function createIncidentStore(db: Db) {
  const q = {
    insert: db.prepare(
      "INSERT INTO incidents (incident_id, status, severity, scope, trigger_source, failure_mode, owner, follow_up, opened_at_ms, updated_at_ms) " +
        "VALUES (@incident_id, 'open', @severity, @scope, @trigger_source, @failure_mode, @owner, @follow_up, @at_ms, @at_ms)",
    ),
    get: db.prepare<[string], IncidentRow>("SELECT * FROM incidents WHERE incident_id = ?"),
    update: db.prepare(
      "UPDATE incidents SET status = @status, containment = @containment, rollback_action = @rollback_action, verification = @verification, " +
        "verification_result = @verification_result, follow_up = @follow_up, owner = @owner, updated_at_ms = @updated_at_ms, " +
        "closed_at_ms = @closed_at_ms WHERE incident_id = @incident_id",
    ),
    open: db.prepare<[], IncidentRow>("SELECT * FROM incidents WHERE status <> 'closed' ORDER BY seq"),
    recent: db.prepare<[number], IncidentRow>("SELECT * FROM incidents ORDER BY seq DESC LIMIT ?"),
    touchedBetween: db.prepare<[number, number], IncidentRow>(
      "SELECT * FROM incidents WHERE updated_at_ms >= ? AND opened_at_ms < ? ORDER BY seq",
    ),
    countToday: db.prepare<[string], number>("SELECT COUNT(*) FROM incidents WHERE incident_id LIKE ?").pluck(),
    log: db.prepare(
      "INSERT INTO incident_log (incident_id, at_ms, actor, action, detail, audit_seq, audit_hash) " +
        "VALUES (@incident_id, @at_ms, @actor, @action, @detail, @audit_seq, @audit_hash)",
    ),
    logOf: db.prepare<[string], IncidentLogRow>("SELECT * FROM incident_log WHERE incident_id = ? ORDER BY seq"),
  };
  return {
    /** Insert a new open incident. */
    insert: (r: {
      incident_id: string;
      severity: string;
      scope: string;
      trigger_source: string;
      failure_mode: string;
      owner: string;
      follow_up: string | null;
      at_ms: number;
    }): void => void q.insert.run(r),
    get: (incidentId: string): IncidentRow | undefined => q.get.get(incidentId),
    /** Write an incident's mutable fields back. */
    update: (r: IncidentRow): void => void q.update.run(r),
    /** Incidents not closed, oldest first. */
    open: (): IncidentRow[] => q.open.all(),
    /** The `limit` most recent incidents, newest first. */
    recent: (limit: number): IncidentRow[] => q.recent.all(limit),
    /** Incidents alive at some point in [fromMs, toMs): opened before `toMs` and last changed at or after `fromMs`. */
    between: (fromMs: number, toMs: number): IncidentRow[] => q.touchedBetween.all(fromMs, toMs),
    /** How many incident ids start with `prefix` (ids are numbered per day). */
    countWithPrefix: (prefix: string): number => q.countToday.get(prefix.replace(/[\\%_]/g, "") + "%") ?? 0,
    /** Append one action, naming the audit row written with it. */
    log: (r: Omit<IncidentLogRow, "seq">): void => void q.log.run(r),
    /** An incident's actions, oldest first. */
    logOf: (incidentId: string): IncidentLogRow[] => q.logOf.all(incidentId),
  };
}

export type IncidentStore = ReturnType<typeof createIncidentStore>;
