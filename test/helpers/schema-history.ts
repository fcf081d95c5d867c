/**
 * Put a migrated SQLite database back to what an older schema version left, for upgrade tests: each step undoes one
 * migration (newest first), then `user_version` says the version. Only the migrations upgrade tests start before.
 */
import type Database from "better-sqlite3";

const UNDO: Record<number, string> = {
  20:
    "DROP TABLE responder_starts; " +
    "CREATE INDEX responder_jobs_principal_started ON responder_jobs(principal, updated_at_ms, attempts) WHERE attempts > 0; " +
    "CREATE INDEX responder_jobs_responder_started ON responder_jobs(responder, updated_at_ms, attempts) WHERE attempts > 0;",
  19:
    "DROP INDEX outbox_pending; DROP INDEX outbox_attention; DROP INDEX comms_deliveries_retry; " +
    "CREATE INDEX outbox_pending ON outbox(status, next_attempt_at_ms) WHERE status IN ('queued', 'retry_scheduled', 'sending'); " +
    "CREATE INDEX outbox_attention ON outbox(status) WHERE status IN ('dead_letter', 'unknown', 'failed'); " +
    "CREATE INDEX comms_deliveries_retry ON comms_deliveries(status, id) WHERE status IN ('failed', 'timeout') AND live = 1;",
  18: "DROP TABLE responder_usage_daily;",
};

/** Undo the migrations after `version` (from the newest this helper knows) and set `user_version` to it. */
export function asSchemaVersion(db: Database.Database, version: number): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  for (let v = current; v > version; v--) {
    const undo = UNDO[v];
    if (undo === undefined) throw new Error(`schema-history: no undo for migration ${v}; add it to test/helpers/schema-history.ts`);
    db.exec(undo);
  }
  db.pragma(`user_version = ${version}`);
}
