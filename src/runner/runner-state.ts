/**
 * @module Runner health from cycle reports (PRODUCT.md §10): `failing` at failure_streak ≥ 3, `degraded` on
 * any failure in the last cycle or a backlog older than its threshold, else `healthy`. Pure.
 */
import type { HealthState, RunnerState } from "../contracts/health.ts";

export type { RunnerState } from "../contracts/health.ts";

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
}

/** Fold one cycle into the runner state. */
export function nextRunnerState(
  prev: RunnerState | null,
  r: CycleReport,
  opts: { now: number; startedAt: number; backlogThresholdMs: number },
): RunnerState {
  const failed = r.failed > 0;
  const failure_streak = failed ? (prev?.failure_streak ?? 0) + 1 : 0;
  const backlog_age_ms = r.oldest_queued_ms === null ? 0 : Math.max(0, opts.now - r.oldest_queued_ms);
  const codes: string[] = [];
  if (failed) codes.push("event_processing_failed");
  if (r.duplicates > 0) codes.push("duplicate_events_skipped");
  if (r.queue_depth > 0) codes.push("queue_backpressure_applied");
  const denied = Object.entries(r.outcomes)
    .filter(([k]) => k.startsWith("deny_actor_"))
    .reduce((a, [, v]) => a + v, 0);
  if (denied > 0) codes.push("pairing_policy_denied_events");
  if (codes.length === 0 || (codes.length === 1 && codes[0] === "duplicate_events_skipped")) codes.unshift("healthy_cycle");
  const health: HealthState =
    failure_streak >= 3
      ? "failing"
      : failed || (opts.backlogThresholdMs > 0 && backlog_age_ms > opts.backlogThresholdMs)
        ? "degraded"
        : "healthy";
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
