/**
 * @module Overall health (PRODUCT.md §10): the runner state plus dead letters, connector liveness and
 * rejected policy reloads. Pure; the CLI and `/healthz` render it.
 */
import type { HealthState, RunnerState } from "../runner/runner-state.ts";

export interface HealthInputs {
  runner: RunnerState | null;
  deadLetters: number;
  /** Live email/SMS sends waiting for a dead-letter replay (communications.alerts.deadletter.replay). */
  commsReplayPending?: number;
  policyReloadRejected: boolean;
  policyLoadError: boolean;
  connectorsNotLive: string[];
  killSwitches: string[];
}

export interface HealthReport {
  state: HealthState;
  reason_codes: string[];
  failure_streak: number;
  queue_depth: number;
  backlog_age_ms: number;
}

/** healthy → exit 0, degraded → 1, failing → 2. */
export const HEALTH_EXIT: Record<HealthState, number> = { healthy: 0, degraded: 1, failing: 2 };

export function computeHealth(i: HealthInputs): HealthReport {
  const codes: string[] = [];
  let state: HealthState = i.runner?.health ?? "healthy";
  if (i.runner && i.runner.health !== "healthy") codes.push(...i.runner.last_reason_codes.filter((c) => c !== "healthy_cycle"));
  if (i.runner && i.runner.backlog_age_ms > 0 && i.runner.health === "degraded" && !i.runner.last_cycle_failed) codes.push("backlog_over_threshold");
  const degrade = (code: string) => {
    codes.push(code);
    if (state === "healthy") state = "degraded";
  };
  if (i.deadLetters > 0) degrade("dead_letters_present");
  if ((i.commsReplayPending ?? 0) > 0) degrade("comms_dead_letters_present");
  if (i.policyReloadRejected) degrade("policy_reload_rejected");
  if (i.policyLoadError) {
    codes.push("deny_channel_policy_load_error");
    state = "failing";
  }
  for (const c of i.connectorsNotLive) degrade(`connector_not_live:${c}`);
  for (const k of i.killSwitches) codes.push(`kill_switch_on:${k}`);
  if (codes.length === 0) codes.push(i.runner ? "healthy_cycle" : "runner_never_ran");
  return {
    state,
    reason_codes: [...new Set(codes)],
    failure_streak: i.runner?.failure_streak ?? 0,
    queue_depth: i.runner?.queue_depth ?? 0,
    backlog_age_ms: i.runner?.backlog_age_ms ?? 0,
  };
}
