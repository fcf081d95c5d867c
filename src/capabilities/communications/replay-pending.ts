/**
 * @module Live email/SMS sends that a dead-letter replay could still fix: failed or timed out, live, under the
 * contract's `deadletter.max_attempts`, for a reason a retry can change. What `tau health` reports as
 * `comms_dead_letters_present` and what `communications.alerts.deadletter.replay` picks up.
 */
import type { Db } from "../../store/index.ts";
import { loadCommsFile } from "./contracts.ts";

/** Reasons a retry cannot fix. */
export const PERMANENT_FAILURES: ReadonlySet<string> = new Set(["provider_validation_failed", "provider_recipient_unsubscribed"]);

/** The schema default, used when delivery.yaml is absent or broken (its errors show in the contract checks). */
const DEFAULT_MAX_ATTEMPTS = 3;

export function commsReplayPending(db: Db, policiesDir: string): number {
  let max = DEFAULT_MAX_ATTEMPTS;
  try {
    max = loadCommsFile(policiesDir, "delivery").deadletter.max_attempts;
  } catch {
    // No communications contracts (or broken ones): count with the default.
  }
  const permanent = [...PERMANENT_FAILURES];
  return db
    .prepare(`SELECT COUNT(*) FROM comms_deliveries WHERE status IN ('failed', 'timeout') AND live = 1 AND attempts < ? AND reason_code NOT IN (${permanent.map(() => "?").join(", ")})`)
    .pluck()
    .get(max, ...permanent) as number;
}
