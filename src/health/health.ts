/**
 * @module Overall health (PRODUCT.md §10), one pure function over explicit facts: the runner state, dead letters,
 * live email/SMS sends waiting for a replay, the policy status, connector liveness and kill switches. The CLI,
 * `/healthz` and chat `/tau health` all call it through `readHealthFacts` (health-facts.ts).
 */
import type { HealthReport, HealthState, RunnerState } from "../contracts/health.ts";
import { connectorsNotLive, type ConnectorFact } from "./connector-liveness.ts";

export interface HealthInputs {
  runner: RunnerState | null;
  deadLetters: number;
  /** Live email/SMS sends waiting for a dead-letter replay (communications.alerts.deadletter.replay). */
  commsReplayPending: number;
  /** The policy manager's persisted state (`active`, `reload_rejected`, `no_known_good`), or null before the first load. */
  policyState: string | null;
  connectors: readonly ConnectorFact[];
  killSwitches: readonly string[];
}

/** healthy → exit 0, degraded → 1, failing → 2. */
export const HEALTH_EXIT: Record<HealthState, number> = { healthy: 0, degraded: 1, failing: 2 };

export function computeHealth(i: HealthInputs): HealthReport {
  const codes: string[] = [];
  let state: HealthState = i.runner?.health ?? "healthy";
  if (i.runner && i.runner.health !== "healthy") codes.push(...i.runner.last_reason_codes.filter((c) => c !== "healthy_cycle"));
  if (i.runner && i.runner.backlog_age_ms > 0 && i.runner.health === "degraded" && !i.runner.last_cycle_failed)
    codes.push("backlog_over_threshold");
  const degrade = (code: string) => {
    codes.push(code);
    if (state === "healthy") state = "degraded";
  };
  if (i.deadLetters > 0) degrade("dead_letters_present");
  if (i.commsReplayPending > 0) degrade("comms_dead_letters_present");
  if (i.policyState === "reload_rejected") degrade("policy_reload_rejected");
  if (i.policyState === "no_known_good") {
    codes.push("deny_channel_policy_load_error");
    state = "failing";
  }
  for (const c of connectorsNotLive(i.connectors)) degrade(`connector_not_live:${c}`);
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
