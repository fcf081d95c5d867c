/**
 * @module Live email/SMS sends that a dead-letter replay could still fix: failed or timed out, live, under the
 * contract's `deadletter.max_attempts`, for a reason a retry can change. What `tau health` reports as
 * `comms_dead_letters_present` and what `communications.alerts.deadletter.replay` picks up.
 */
import type { CommsStore } from "../../store/index.ts";
import { loadCommsFile } from "./contracts.ts";

/** Reasons a retry cannot fix. */
export const PERMANENT_FAILURES: ReadonlySet<string> = new Set(["provider_validation_failed", "provider_recipient_unsubscribed"]);

/** The schema default, used when delivery.yaml is absent or broken (its errors show in the contract checks). */
const DEFAULT_MAX_ATTEMPTS = 3;

export function commsReplayPending(comms: CommsStore, policiesDir: string): number {
  let max = DEFAULT_MAX_ATTEMPTS;
  try {
    max = loadCommsFile(policiesDir, "delivery").deadletter.max_attempts;
  } catch {
    // No communications contracts (or broken ones): count with the default.
  }
  return comms.pendingReplays(max, [...PERMANENT_FAILURES]);
}
