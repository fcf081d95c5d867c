/**
 * @module Retry policy for provider sends (pure): what a failed send does to its outbox row, and when the next
 * attempt is due. Only retryable failures are retried (429 honouring retry-after, 5xx, failures before any byte of
 * the request reached the connection, a missing credential); ambiguous sends go to the operator (`unknown`) unless
 * the sender is idempotent; the rest fail. A rate limit is the provider pacing us, not a failed attempt: it waits as
 * told and does not use up `max_attempts` (otherwise a busy provider would dead-letter replies it only asked us to
 * delay). Backoff is exponential with full jitter.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
import type { SendFailure } from "../contracts/delivery.ts";

/** The `outbound` settings that drive retries (tau.yaml). */
export interface RetryPolicy {
  max_attempts: number;
  base_backoff_ms: number;
  max_backoff_ms: number;
}

/** Why a row got its decision (logged with it). */
export type RetryWhy =
  /** The client held the request back for a rate-limit bucket it tracks: nothing was sent. */
  | "held_by_client"
  /** The provider answered 429 (or its rate-limit code): wait as told. */
  | "rate_limited"
  /** A retryable failure: exponential backoff with jitter. */
  | "backoff"
  /** Ambiguous, but re-sending cannot duplicate (Discord nonce). */
  | "idempotent_resend"
  /** Retryable, but `max_attempts` attempts failed. */
  | "attempts_exhausted"
  /** The provider refused the request for good (4xx, window closed, blocked). */
  | "not_retryable"
  /** The request may have arrived: the operator decides (`tau deadletter`). */
  | "ambiguous";

/** What a failed attempt does to its row. `uses_attempt` is false when the attempt does not count toward the cap. */
export type RetryDecision =
  | { status: "retry_scheduled"; delay_ms: number; next_attempt_at_ms: number; uses_attempt: boolean; why: RetryWhy }
  | { status: "dead_letter"; why: "attempts_exhausted" }
  | { status: "failed"; why: "not_retryable" }
  | { status: "unknown"; why: "ambiguous" };

/** Full jitter: uniform in [0, min(max, base·2^(attempt−1))), `attempt` counting from 1. `random()` is in [0, 1). */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.max_backoff_ms, policy.base_backoff_ms * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.floor(random() * cap);
}

/**
 * Decide after attempt number `attempt` (1-based, counting the attempts that use the budget) failed with `failure` at
 * `now`. A provider-mandated wait is never shortened; it may be lengthened by the jitter so that many held rows do not
 * return at once.
 */
export function decideRetry(failure: SendFailure, attempt: number, policy: RetryPolicy, now: number, random: () => number): RetryDecision {
  const schedule = (delay: number, uses_attempt: boolean, why: RetryWhy): RetryDecision => ({
    status: "retry_scheduled",
    delay_ms: delay,
    next_attempt_at_ms: now + delay,
    uses_attempt,
    why,
  });
  if (failure.ambiguous && !failure.retryable) return { status: "unknown", why: "ambiguous" };
  if (!failure.retryable) return { status: "failed", why: "not_retryable" };
  if (failure.code === "delivery_rate_limited") {
    // No status: the client itself held the request back until its bucket resets — exactly that long, nothing sent.
    if (failure.status === null) return schedule(failure.retry_after_ms ?? 0, false, "held_by_client");
    // Without a stated wait, at least base_backoff_ms: these waits use no attempt, so nothing else bounds their pace.
    const jitter = backoffMs(attempt, policy, random);
    return schedule(Math.max(failure.retry_after_ms ?? policy.base_backoff_ms, jitter), false, "rate_limited");
  }
  if (attempt >= policy.max_attempts) return { status: "dead_letter", why: "attempts_exhausted" };
  const jitter = backoffMs(attempt, policy, random);
  return schedule(jitter, true, failure.ambiguous ? "idempotent_resend" : "backoff");
}
