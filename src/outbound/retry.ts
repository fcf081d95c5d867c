/**
 * @module Retry policy for provider sends (pure): what a failed send does to its outbox row, and when the next
 * attempt is due. Only retryable failures are retried (429 honouring retry-after, 5xx, failures before the
 * request was written, a missing credential); ambiguous sends go to the operator (`unknown`); the rest fail.
 * Backoff is exponential with full jitter.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
import type { SendFailure } from "../contracts/delivery.ts";

/** The `outbound` settings that drive retries (tau.yaml). */
export interface RetryPolicy {
  max_attempts: number;
  base_backoff_ms: number;
  max_backoff_ms: number;
}

/** What a failed attempt does to its row. */
export type RetryDecision =
  | { status: "retry_scheduled"; delay_ms: number; next_attempt_at_ms: number }
  | { status: "dead_letter" }
  | { status: "failed" }
  | { status: "unknown" };

/** Full jitter: uniform in [0, min(max, base·2^(attempt−1))), `attempt` counting from 1. `random()` is in [0, 1). */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.max_backoff_ms, policy.base_backoff_ms * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.floor(random() * cap);
}

/**
 * Decide after attempt number `attempt` (1-based) failed with `failure` at `now`. A provider-mandated wait is
 * never shortened; it may be lengthened by the jitter so that many held rows do not return at once.
 */
export function decideRetry(failure: SendFailure, attempt: number, policy: RetryPolicy, now: number, random: () => number): RetryDecision {
  if (failure.ambiguous && !failure.retryable) return { status: "unknown" };
  if (!failure.retryable) return { status: "failed" };
  if (attempt >= policy.max_attempts) return { status: "dead_letter" };
  const jitter = backoffMs(attempt, policy, random);
  const delay = failure.retry_after_ms !== null ? Math.max(failure.retry_after_ms, jitter) : jitter;
  return { status: "retry_scheduled", delay_ms: delay, next_attempt_at_ms: now + delay };
}
