/** @module Health as every surface reports it (PRODUCT.md §10): `tau health`, `/healthz`, `/tau health`, `tau status`. */

export type HealthState = "healthy" | "degraded" | "failing";

export interface HealthReport {
  state: HealthState;
  reason_codes: string[];
  failure_streak: number;
  queue_depth: number;
  backlog_age_ms: number;
}
