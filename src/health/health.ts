/**
 * @module Overall health (PRODUCT.md §10), one pure function over persisted facts. The CLI, `/healthz`, `/readyz`,
 * chat `/tau health`, `tau status`, `/metrics` and the watchdog all call it through `healthFor` (src/app/services.ts),
 * which reads the facts with `readHealthFacts` (health-facts.ts) — never the caller's environment.
 *
 * `failing`: failure_streak ≥ 3; the runner's heartbeat older than `stale_after_ms` while work is queued; events
 * waiting past the backlog threshold and no runner ever ran; no known-good policy (tau denies everything).
 * `degraded`: a failure in the last cycle; a backlog older than its threshold; work queued and no runner ever ran; a
 * connector not live; dead letters; any kill switch on; a rejected policy or config reload; a required policy file
 * missing; an invalid communications contract; a misconfigured responder. `healthy` only otherwise.
 */
import type { HealthReport, HealthState, RunnerState } from "../contracts/health.ts";
import { connectorsNotLive, type ConnectorFact } from "./connector-liveness.ts";
import type { QueueFact } from "./queue-facts.ts";

export interface HealthInputs {
  now: number;
  runner: RunnerState | null;
  queue: QueueFact;
  thresholds: { backlog_threshold_ms: number; stale_after_ms: number };
  deadLetters: number;
  /** Live email/SMS sends waiting for a dead-letter replay (communications.alerts.deadletter.replay). */
  commsReplayPending: number;
  /** The policy manager's persisted state (`ok`, `reload_rejected`, `no_known_good`), or null before the first load. */
  policyState: string | null;
  /** Required policy files that are missing (their secure default is active). */
  policyFilesMissing: readonly string[];
  /** The service rejected a tau.yaml reload (SIGHUP): it runs on the configuration it started with. */
  configReloadRejected: boolean;
  /** Why the communications contracts do not load, or null (valid, or the feature is off). */
  commsContractError: string | null;
  /** Responders whose configuration check fails (by name). */
  respondersMisconfigured: readonly string[];
  /** The calendar contract's error, or the CalDAV server's last failed answer; null when no calendar is configured. */
  calendar: { contractError: string | null; serverDown: string | null } | null;
  connectors: readonly ConnectorFact[];
  killSwitches: readonly string[];
}

/** The report every surface serves: the contract's fields plus the facts behind the verdict. */
export interface HealthView extends HealthReport {
  /** Age of the runner's last cycle (its heartbeat); null when no runner ever ran. */
  heartbeat_age_ms: number | null;
  checked_at_ms: number;
}

/** healthy → exit 0, degraded → 1, failing → 2. */
export const HEALTH_EXIT: Record<HealthState, number> = { healthy: 0, degraded: 1, failing: 2 };

/** Cycle codes that mean something failed in the runner's last cycle. */
const CYCLE_FAILURES = ["event_processing_failed", "transient_failures_observed", "dead_letters_created"] as const;

/** Reason codes with what they mean; every code health reports is one of these (`<code>:<detail>` for the scoped ones). */
export const HEALTH_CODES = {
  healthy_cycle: "healthy: the runner's last cycle went through",
  runner_never_ran: "no runner has processed anything in this state yet",
  failure_streak_exceeded: "failing: 3 or more runner cycles in a row failed an event",
  runner_stale: "failing: the runner's last cycle is older than runner.stale_after_ms while work is queued",
  backlog_over_threshold: "the oldest unprocessed ingress line is older than runner.backlog_threshold_ms",
  queue_waiting: "events wait in ingress",
  deny_channel_policy_load_error: "failing: no known-good policy; every event is denied",
  event_processing_failed: "the last runner cycle failed an event",
  transient_failures_observed: "the last runner cycle saw retryable delivery failures",
  dead_letters_created: "the last runner cycle dead-lettered a reply",
  connector_not_live: "an enabled connector is not live",
  dead_letters_present: "replies wait in the dead letter queue",
  comms_dead_letters_present: "live email/SMS sends wait for a dead-letter replay",
  kill_switch_on: "a kill switch is on",
  policy_reload_rejected: "a policy reload was rejected; the last known good is active",
  policy_file_missing: "a required policy file is missing; its secure default is active",
  config_reload_rejected: "a tau.yaml reload was rejected; the service runs on the configuration it started with",
  comms_contract_invalid: "a communications contract does not load",
  responder_misconfigured: "a responder's configuration check fails",
  calendar_contract_invalid: "policies/communications/calendar.yaml does not load",
  calendar_server_unreachable: "a calendar is configured but the CalDAV server's last answer was a failure (detail: its reason code)",
  ingress_unreadable: "this process may not read an ingress file, so the backlog there is unknown",
  cluster_heartbeat_failed: "failing: this node cannot write its heartbeat to the shared store (served by /healthz of that node)",
} as const;

export function computeHealth(i: HealthInputs): HealthView {
  const failing: string[] = [];
  const degraded: string[] = [];
  const r = i.runner;
  const heartbeatAge = r ? Math.max(0, i.now - r.last_cycle_at_ms) : null;
  const backlogAge = i.queue.depth > 0 && i.queue.oldest_received_at_ms !== null ? Math.max(0, i.now - i.queue.oldest_received_at_ms) : 0;
  const overThreshold = i.thresholds.backlog_threshold_ms > 0 && backlogAge > i.thresholds.backlog_threshold_ms;

  if (r && r.failure_streak >= 3) failing.push("failure_streak_exceeded", "event_processing_failed");
  if (r && i.queue.depth > 0 && heartbeatAge! > i.thresholds.stale_after_ms) failing.push("runner_stale");
  if (!r && i.queue.depth > 0) (overThreshold ? failing : degraded).push("runner_never_ran", "queue_waiting");
  if (i.policyState === "no_known_good") failing.push("deny_channel_policy_load_error");

  if (r) for (const c of CYCLE_FAILURES) if (r.last_reason_codes.includes(c)) degraded.push(c);
  if (overThreshold) degraded.push("backlog_over_threshold");
  for (const c of connectorsNotLive(i.connectors)) degraded.push(`connector_not_live:${c}`);
  if (i.deadLetters > 0) degraded.push("dead_letters_present");
  if (i.commsReplayPending > 0) degraded.push("comms_dead_letters_present");
  for (const k of i.killSwitches) degraded.push(`kill_switch_on:${k}`);
  if (i.policyState === "reload_rejected") degraded.push("policy_reload_rejected");
  for (const f of i.policyFilesMissing) degraded.push(`policy_file_missing:${f}`);
  if (i.configReloadRejected) degraded.push("config_reload_rejected");
  if (i.commsContractError !== null) degraded.push("comms_contract_invalid");
  for (const n of i.respondersMisconfigured) degraded.push(`responder_misconfigured:${n}`);
  if (i.calendar?.contractError) degraded.push("calendar_contract_invalid");
  if (i.calendar?.serverDown) degraded.push(`calendar_server_unreachable:${i.calendar.serverDown}`);
  for (const t of i.queue.unreadable ?? []) degraded.push(`ingress_unreadable:${t}`);

  const state: HealthState = failing.length ? "failing" : degraded.length ? "degraded" : "healthy";
  const codes = [...new Set([...failing, ...degraded])];
  if (codes.length === 0) codes.push(r ? "healthy_cycle" : "runner_never_ran");
  return {
    state,
    reason_codes: codes,
    failure_streak: r?.failure_streak ?? 0,
    queue_depth: i.queue.depth,
    backlog_age_ms: backlogAge,
    heartbeat_age_ms: heartbeatAge,
    checked_at_ms: i.now,
  };
}
