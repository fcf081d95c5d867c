/**
 * @module Runner health from cycle reports (PRODUCT.md §10): `failing` at failure_streak ≥ 3, `degraded` on any
 * failure in the last cycle (an event that failed, a retryable delivery failure, a reply dead-lettered) or a backlog
 * older than its threshold, else `healthy`. The cycle's reason codes say why, one code per condition, and carry the
 * cycle's facts besides (backpressure, duplicates, retries, the pairing posture, denied events). Pure.
 */
import type { HealthState, RunnerState } from "../contracts/health.ts";

export type { RunnerState } from "../contracts/health.ts";

/** What the access stage decided in a cycle: anyone admitted (permissive), allowlist/pairing judged (enforced), denied. */
export interface AccessTally {
  permissive: number;
  enforced: number;
  denied: number;
}

/** What delivery did in a cycle, from the outbox and its counters. */
export interface DeliveryTally {
  /** Scheduled retries that came due and were attempted. */
  retries: number;
  /** Retryable failures (429, 5xx, connection failures). */
  transient_failures: number;
  /** Replies that ended in the dead letter queue. */
  dead_lettered: number;
}

export interface CycleReport {
  processed: number;
  duplicates: number;
  quarantined: number;
  failed: number;
  replies: number;
  delivered: number;
  queue_depth: number;
  oldest_queued_ms: number | null;
  outcomes: Record<string, number>;
  access?: AccessTally;
  delivery?: DeliveryTally;
}

/**
 * Runtime cycle codes (PRODUCT.md §10) and the condition each stands for. `dead_letters_created` is tau's addition:
 * a cycle that dead-lettered a reply is not a healthy one, whatever else happened in it.
 */
export const CYCLE_CODE_MEANING = {
  healthy_cycle: "nothing failed in the cycle and the backlog is within its threshold",
  queue_backpressure_applied: "queue_limit left events queued for the next cycle",
  duplicate_events_skipped: "redelivered events were skipped by event id",
  retry_attempted: "scheduled delivery retries came due and were attempted",
  transient_failures_observed: "a delivery failed in a retryable way (429, 5xx, connection)",
  dead_letters_created: "a reply was dead-lettered",
  event_processing_failed: "an event threw in the pipeline",
  pairing_policy_permissive: "events were admitted by allowFrom: any",
  pairing_policy_enforced: "events were judged by allowlist or pairing",
  pairing_policy_denied_events: "events were denied by allowlist or pairing (pairing challenges included)",
} as const;

/** Fold one cycle into the runner state. */
export function nextRunnerState(
  prev: RunnerState | null,
  r: CycleReport,
  opts: { now: number; startedAt: number; backlogThresholdMs: number },
): RunnerState {
  const failed = r.failed > 0;
  const failure_streak = failed ? (prev?.failure_streak ?? 0) + 1 : 0;
  const backlog_age_ms = r.oldest_queued_ms === null ? 0 : Math.max(0, opts.now - r.oldest_queued_ms);
  const d = r.delivery ?? { retries: 0, transient_failures: 0, dead_lettered: 0 };
  const a = r.access ?? { permissive: 0, enforced: 0, denied: 0 };
  const failures: string[] = [];
  if (failed) failures.push("event_processing_failed");
  if (d.transient_failures > 0) failures.push("transient_failures_observed");
  if (d.dead_lettered > 0) failures.push("dead_letters_created");
  const backlogOver = opts.backlogThresholdMs > 0 && backlog_age_ms > opts.backlogThresholdMs;
  const health: HealthState = failure_streak >= 3 ? "failing" : failures.length > 0 || backlogOver ? "degraded" : "healthy";
  const facts: string[] = [];
  if (r.queue_depth > 0) facts.push("queue_backpressure_applied");
  if (r.duplicates > 0) facts.push("duplicate_events_skipped");
  if (d.retries > 0) facts.push("retry_attempted");
  if (a.permissive > 0) facts.push("pairing_policy_permissive");
  if (a.enforced > 0) facts.push("pairing_policy_enforced");
  if (a.denied > 0) facts.push("pairing_policy_denied_events");
  const codes = [
    ...(health === "healthy" ? ["healthy_cycle"] : []),
    ...failures,
    ...(backlogOver ? ["backlog_over_threshold"] : []),
    ...facts,
  ];
  const t = prev?.totals ?? { processed: 0, duplicates: 0, quarantined: 0, failed: 0, replies: 0, delivered: 0 };
  return {
    cycles: (prev?.cycles ?? 0) + 1,
    failure_streak,
    last_cycle_failed: failed,
    last_cycle_at_ms: opts.now,
    last_cycle_duration_ms: opts.now - opts.startedAt,
    queue_depth: r.queue_depth,
    backlog_age_ms,
    health,
    last_reason_codes: codes,
    totals: {
      processed: t.processed + r.processed,
      duplicates: t.duplicates + r.duplicates,
      quarantined: t.quarantined + r.quarantined,
      failed: t.failed + r.failed,
      replies: t.replies + r.replies,
      delivered: t.delivered + r.delivered,
    },
  };
}
