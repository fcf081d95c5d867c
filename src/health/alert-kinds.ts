/**
 * @module Alert kinds, after the operations runbook's alert matrix: each health reason code (and each breached delivery
 * anomaly) maps to a kind with a default severity — SEV-1 contain now, SEV-2 act in the same operating window, SEV-3
 * record and investigate — and the runbook's first action. `alerts.severity` in tau.yaml overrides a kind's severity.
 */
import type { Severity } from "../config/index.ts";

export interface AlertKind {
  severity: Severity;
  /** The runbook row it follows. */
  matrix: string;
  /** What the on-call operator does first. */
  first_action: string;
}

export const ALERT_KINDS = {
  health_failing: {
    severity: "SEV-1",
    matrix: "Resolver health (broadly unavailable)",
    first_action: "contain now: tau status, then a kill switch or tau policy rollback --yes if a change caused it",
  },
  health_degraded: { severity: "SEV-3", matrix: "early warning", first_action: "record and investigate: tau status" },
  runner_failing: {
    severity: "SEV-1",
    matrix: "Workflow watchdog (hard failure)",
    first_action: "tau events --since 15m; quarantine or fix the failing events, keep the kill switch ready",
  },
  policy_fail_closed: {
    severity: "SEV-1",
    matrix: "Publish failure with no known good",
    first_action: "tau policy check, fix the files, tau policy apply (every event is denied until then)",
  },
  runner_stale: {
    severity: "SEV-2",
    matrix: "Workflow watchdog",
    first_action: "inspect the active run, the runner lock and the backlog: tau status, tau events --since 15m",
  },
  backlog: {
    severity: "SEV-2",
    matrix: "Stale pack (backlog past threshold)",
    first_action: "check the runner is running and not stuck on a provider: tau status",
  },
  dead_letters: {
    severity: "SEV-2",
    matrix: "Publish blocked (deliveries)",
    first_action: "tau deadletter list, fix the cause, then tau deadletter replay",
  },
  connector: {
    severity: "SEV-2",
    matrix: "Resolver health (provider probes fail)",
    first_action: "tau connectors status; tau channel probe <transport> --online",
  },
  kill_switch: {
    severity: "SEV-2",
    matrix: "Kill-switch activation",
    first_action: "confirm containment, scope and follow-up evidence: tau incident open",
  },
  delivery_anomaly: {
    severity: "SEV-2",
    matrix: "Fallback spike (delivery failures)",
    first_action: "halt sends, inspect /tau delivery log --status failed",
  },
  config_rejected: {
    severity: "SEV-2",
    matrix: "Publish blocked (last known good active)",
    first_action: "tau policy check; the last known good stays active until the files are fixed",
  },
  config_invalid: { severity: "SEV-3", matrix: "non-critical scope degraded", first_action: "tau policy check and /tau doctor" },
} as const satisfies Record<string, AlertKind>;

export type AlertKindName = keyof typeof ALERT_KINDS;

/** Health reason code (the part before `:`) → alert kind; codes not listed never alert on their own. */
export const KIND_OF_CODE: Record<string, AlertKindName> = {
  failure_streak_exceeded: "runner_failing",
  deny_channel_policy_load_error: "policy_fail_closed",
  runner_stale: "runner_stale",
  runner_never_ran: "backlog",
  backlog_over_threshold: "backlog",
  dead_letters_present: "dead_letters",
  comms_dead_letters_present: "dead_letters",
  connector_not_live: "connector",
  kill_switch_on: "kill_switch",
  delivery_anomaly: "delivery_anomaly",
  policy_reload_rejected: "config_rejected",
  policy_file_missing: "config_rejected",
  config_reload_rejected: "config_rejected",
  comms_contract_invalid: "config_invalid",
  responder_misconfigured: "config_invalid",
  calendar_contract_invalid: "config_invalid",
  calendar_server_unreachable: "connector",
  ingress_unreadable: "config_invalid",
};

/** A kind's severity: tau.yaml `alerts.severity` first, then the runbook default. */
export function severityOf(kind: AlertKindName, overrides: Readonly<Record<string, Severity>>): Severity {
  return overrides[kind] ?? ALERT_KINDS[kind].severity;
}
