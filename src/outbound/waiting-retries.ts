/**
 * @module Replies waiting for a scheduled retry: how many, and when the next one is due. A drained runner is not done
 * while some are left — `tau process --once` says so, and `--wait-retries` keeps going until they are settled.
 */
import type { Store } from "../store/index.ts";

export interface WaitingRetries {
  /** Rows in `retry_scheduled` (a retryable failure or a rate-limit wait). */
  count: number;
  /** The earliest due time among them (ms since the epoch), null when none. */
  next_due_at_ms: number | null;
}

/** Rows looked at (the oldest first); a backlog beyond this is reported as at least this many. */
const SCAN = 100_000;

/** Replies waiting for a scheduled retry, whatever their due time. */
export function waitingRetries(store: Pick<Store, "outbox">): WaitingRetries {
  let count = 0;
  let next: number | null = null;
  for (const r of store.outbox.pending(Number.MAX_SAFE_INTEGER, SCAN)) {
    if (r.status !== "retry_scheduled") continue;
    count += 1;
    next = next === null ? r.next_attempt_at_ms : Math.min(next, r.next_attempt_at_ms);
  }
  return { count, next_due_at_ms: next };
}
