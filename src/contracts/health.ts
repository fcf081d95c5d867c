/** @module Health as every surface reports it (PRODUCT.md §10): `tau health`, `/healthz`, `/tau health`, `tau status`. */

export type HealthState = "healthy" | "degraded" | "failing";

export interface HealthReport {
  state: HealthState;
  reason_codes: string[];
  failure_streak: number;
  queue_depth: number;
  backlog_age_ms: number;
}

/** What the runner persists after each cycle (kv `runner_state`); health reads it. */
export interface RunnerState {
  cycles: number;
  failure_streak: number;
  last_cycle_failed: boolean;
  last_cycle_at_ms: number;
  last_cycle_duration_ms: number;
  queue_depth: number;
  backlog_age_ms: number;
  health: HealthState;
  last_reason_codes: string[];
  totals: { processed: number; duplicates: number; quarantined: number; failed: number; replies: number; delivered: number };
}
