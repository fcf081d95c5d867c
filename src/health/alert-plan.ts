/**
 * @module What the watchdog says, decided as a value (pure): from the health verdict, breached delivery anomalies and
 * each alert key's stored state, the keys that started firing, changed (the health state moved between degraded and
 * failing) or recovered — deduplicated (a key that stays on is posted once), with a cooldown (a key that recovered is
 * not posted again before `cooldownMs`; it is posted once the cooldown ends if it is still on) — and the one message
 * per evaluation that carries them, headed by the highest severity. While the dispatcher is paused nothing is posted:
 * firing keys wait unposted and recoveries of posted keys are owed, both sent when it resumes.
 */
import type { Severity } from "../config/index.ts";
import type { AlertStateRow } from "../store/index.ts";
import { ALERT_KINDS, KIND_OF_CODE, severityOf, type AlertKindName } from "./alert-kinds.ts";
import type { HealthView } from "./health.ts";

/** A breached delivery anomaly metric (communications delivery.yaml thresholds). */
export interface AnomalyFact {
  metric: string;
  rate: number;
  threshold: number;
  count: number;
  total: number;
  window_minutes: number;
}

export interface AlertPlanInput {
  now: number;
  cooldownMs: number;
  health: HealthView;
  anomalies: readonly AnomalyFact[];
  previous: readonly AlertStateRow[];
  /** `communications.alerts.dispatcher.stop` is in force. */
  paused: boolean;
  severity: Readonly<Record<string, Severity>>;
  thresholds: { backlog_threshold_ms: number };
  /** Kinds not judged now (connectors during the service's startup grace: the first poll has not completed yet). */
  holdKinds?: readonly AlertKindName[];
}

export interface AlertTransition {
  key: string;
  kind: AlertKindName;
  severity: Severity;
  transition: "firing" | "changed" | "recovered";
  line: string;
}

export interface AlertPlan {
  /** Rows to store (every key whose state changed). */
  states: AlertStateRow[];
  transitions: AlertTransition[];
  /** The message for the ops chats, or null when there is nothing to say. */
  message: string | null;
  severity: Severity | null;
}

/** Reason codes that describe a single cycle or a fact, never an alert on their own. */
const NOT_ALERTS = new Set([
  "healthy_cycle",
  "queue_waiting",
  "event_processing_failed",
  "transient_failures_observed",
  "dead_letters_created",
]);

const HEALTH_KEY = "health";

interface Condition {
  key: string;
  kind: AlertKindName;
  severity: Severity;
  summary: string;
}

const secs = (ms: number) => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** One line per condition, in operator words. */
function summaryOf(code: string, detail: string | undefined, i: AlertPlanInput): string {
  const h = i.health;
  switch (code) {
    case "kill_switch_on":
      return `kill switch on: ${detail}`;
    case "connector_not_live":
      return `${detail} connector not live`;
    case "runner_stale":
      return `runner stalled: last cycle ${secs(h.heartbeat_age_ms ?? 0)} ago with ${h.queue_depth} queued`;
    case "backlog_over_threshold":
      return `backlog ${secs(h.backlog_age_ms)} old (threshold ${secs(i.thresholds.backlog_threshold_ms)}), ${h.queue_depth} queued`;
    case "runner_never_ran":
      return `${h.queue_depth} events queued and no runner ever ran`;
    case "failure_streak_exceeded":
      return `runner failing: ${h.failure_streak} cycles in a row failed an event`;
    case "deny_channel_policy_load_error":
      return "no known-good policy: every event is denied";
    case "dead_letters_present":
      return "replies in the dead letter queue";
    case "comms_dead_letters_present":
      return "email/SMS sends wait for a dead-letter replay";
    case "policy_reload_rejected":
      return "policy reload rejected; the last known good is active";
    case "policy_file_missing":
      return `required policy file missing: ${detail}`;
    case "config_reload_rejected":
      return "tau.yaml reload rejected; running on the configuration it started with";
    case "comms_contract_invalid":
      return "a communications contract does not load";
    case "responder_misconfigured":
      return `responder ${detail} misconfigured`;
    default:
      return detail ? `${code}: ${detail}` : code;
  }
}

/** The conditions on now, by key (the health key included when not healthy). */
function conditionsOf(i: AlertPlanInput): Map<string, Condition> {
  const out = new Map<string, Condition>();
  const h = i.health;
  const held = new Set(i.holdKinds ?? []);
  for (const full of h.state === "healthy" ? [] : h.reason_codes) {
    const [code, detail] = [full.split(":")[0]!, full.includes(":") ? full.slice(full.indexOf(":") + 1) : undefined];
    if (NOT_ALERTS.has(code)) continue;
    const k = KIND_OF_CODE[code];
    if (!k || held.has(k)) continue;
    out.set(full, { key: full, kind: k, severity: severityOf(k, i.severity), summary: summaryOf(code, detail, i) });
  }
  // The health state is an alert when something alertable stands behind it (a single failed cycle is not).
  if (out.size > 0) {
    const kind: AlertKindName = h.state === "failing" ? "health_failing" : "health_degraded";
    out.set(HEALTH_KEY, { key: HEALTH_KEY, kind, severity: severityOf(kind, i.severity), summary: h.state });
  }
  // Delivery anomalies concern email/SMS sends: they alert whatever the health verdict.
  for (const a of i.anomalies) {
    const key = `delivery_anomaly:${a.metric}`;
    out.set(key, {
      key,
      kind: "delivery_anomaly",
      severity: severityOf("delivery_anomaly", i.severity),
      summary: `delivery ${a.metric.replace(/_/g, " ")} ${pct(a.rate)} > ${pct(a.threshold)} over ${a.window_minutes} min (${a.count}/${a.total})`,
    });
  }
  return out;
}

const RANK: Record<Severity, number> = { "SEV-1": 1, "SEV-2": 2, "SEV-3": 3 };

export function planAlerts(i: AlertPlanInput): AlertPlan {
  const now = i.now;
  const current = conditionsOf(i);
  const prev = new Map(i.previous.map((r) => [r.alert_key, r]));
  const states: AlertStateRow[] = [];
  const transitions: AlertTransition[] = [];
  const cooled = (p: AlertStateRow | undefined) => !p || p.last_notified_at_ms === 0 || now - p.last_notified_at_ms >= i.cooldownMs;

  for (const c of current.values()) {
    const p = prev.get(c.key);
    const base: AlertStateRow = {
      alert_key: c.key,
      kind: c.kind,
      severity: c.severity,
      firing: true,
      since_ms: p?.firing ? p.since_ms : now,
      notified: p?.firing ? p.notified : false,
      last_notified_at_ms: p?.last_notified_at_ms ?? 0,
      summary: c.summary,
    };
    let t: AlertTransition["transition"] | null = null;
    if (!i.paused) {
      if (!p?.firing || !p.notified) t = cooled(p) ? "firing" : null;
      else if (c.key === HEALTH_KEY && p.summary !== c.summary) t = "changed";
    }
    if (t) {
      base.notified = true;
      base.last_notified_at_ms = now;
      transitions.push({
        key: c.key,
        kind: c.kind,
        severity: c.severity,
        transition: t,
        line: c.key === HEALTH_KEY ? `health ${c.summary}${p?.firing ? ` (was ${p.summary})` : ""}` : c.summary,
      });
    }
    const changed =
      !p || p.firing !== base.firing || p.notified !== base.notified || p.summary !== base.summary || p.severity !== base.severity;
    if (changed || t) states.push(base);
  }

  for (const p of i.previous) {
    if (current.has(p.alert_key)) continue;
    if (!p.notified) {
      // An episode a cooldown (or a pause) kept quiet ends quietly.
      if (p.firing) states.push({ ...p, firing: false });
      continue;
    }
    if (i.paused) {
      // The recovery is owed (notified stays true) until the dispatcher resumes.
      if (p.firing) states.push({ ...p, firing: false });
      continue;
    }
    states.push({ ...p, firing: false, notified: false });
    transitions.push({
      key: p.alert_key,
      kind: p.kind as AlertKindName,
      severity: p.severity as Severity,
      transition: "recovered",
      line: p.alert_key === HEALTH_KEY ? `health ${i.health.state}` : `${p.summary} (after ${secs(now - p.since_ms)})`,
    });
  }

  if (transitions.length === 0) return { states, transitions, message: null, severity: null };
  const firing = transitions.filter((t) => t.transition !== "recovered");
  const severity = firing.length ? firing.map((t) => t.severity).sort((a, b) => RANK[a] - RANK[b])[0]! : null;
  return { states, transitions, message: renderMessage(i, transitions, severity), severity };
}

/** One message: header (severity and health), one line per new or cleared condition, the reasons and what to do. */
function renderMessage(i: AlertPlanInput, ts: readonly AlertTransition[], severity: Severity | null): string {
  const h = i.health;
  const lines: string[] = [];
  lines.push(
    severity ? `[tau] ${severity} · health ${h.state}` : `[tau] ${h.state === "healthy" ? "RECOVERED" : "CLEARED"} · health ${h.state}`,
  );
  for (const t of ts) {
    if (t.key === HEALTH_KEY) continue;
    if (t.transition === "recovered") lines.push(`- cleared: ${t.line}`);
    else lines.push(`+ ${t.severity} ${t.line} — ${ALERT_KINDS[t.kind].first_action}`);
  }
  const healthChange = ts.find((t) => t.key === HEALTH_KEY && t.transition !== "recovered");
  if (healthChange && lines.length === 1) lines.push(`+ ${healthChange.severity} ${healthChange.line}`);
  if (h.state !== "healthy") lines.push(`reasons: ${h.reason_codes.join(", ")}`);
  if (severity) {
    const first = ts.find((t) => t.transition !== "recovered" && t.key !== HEALTH_KEY) ?? ts[0]!;
    lines.push(`next: tau status · tau incident open --trigger "alert:${first.key}" --scope … --failure-mode …`);
  }
  return lines.join("\n");
}
