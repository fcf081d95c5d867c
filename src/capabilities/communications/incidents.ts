/**
 * @module Incident records (`/tau incident open|note|contain|verify|close|list|show`, and `tau incident …`): the
 * evidence the operations runbook requires for every intervention — timestamp, scope, trigger or alert source,
 * observed failure mode, containment, rollback or kill-switch action, verification result, operator and follow-up.
 * Every action is a row in the incident's log written with an audit record in one unit of work, the log row naming
 * that audit row's sequence number and hash, so the evidence is part of the tamper-evident audit chain. Opening an
 * incident also captures the health verdict, the kill switches that are on and the alerts firing at that moment.
 */
import { z } from "zod";
import { appendAudit } from "../../audit/audit-log.ts";
import type { IncidentLogRow, IncidentRow } from "../../store/index.ts";
import { defineCapability, failed, reported, type CapabilityContext } from "../capability.ts";
import type { Services } from "../services.ts";
import { flag } from "./context.ts";

const SEVERITY = z.enum(["SEV-1", "SEV-2", "SEV-3"]);
const incidentId = z.string().regex(/^INC-\d{8}-\d{2,}$/, "an incident id like INC-20261206-01");
const text = (what: string) => z.string().trim().min(1, `say ${what}`).max(2000);

/** `INC-<yyyymmdd>-<nn>`, numbered per UTC day. */
function nextIncidentId(s: Services, now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, "");
  const n = s.store.incidents.countWithPrefix(`INC-${day}-`) + 1;
  return `INC-${day}-${String(n).padStart(2, "0")}`;
}

/** Log one action with its audit record, in the caller's unit of work. */
function logAction(ctx: CapabilityContext, id: string, action: string, detail: Record<string, unknown>, outcome: string): void {
  const s = ctx.services;
  const row = appendAudit(
    s.store,
    {
      actor: ctx.principal,
      surface: ctx.surface,
      action: `incident.${action}`,
      target: id,
      args: detail,
      outcome,
      reason_code: `incident_${action === "open" ? "opened" : action === "close" ? "closed" : action === "contain" ? "contained" : action === "verify" ? "verified" : "noted"}`,
    },
    ctx.now,
  );
  s.store.incidents.log({
    incident_id: id,
    at_ms: ctx.now,
    actor: ctx.principal,
    action,
    detail: JSON.stringify(detail),
    audit_seq: row.seq,
    audit_hash: row.hash,
  });
}

/** What the service looked like when the incident opened: the verdict, switches on, alerts firing. */
function evidenceNow(s: Services) {
  const h = s.health();
  return {
    health: { state: h.state, reason_codes: h.reason_codes, queue_depth: h.queue_depth, backlog_age_ms: h.backlog_age_ms },
    kill_switches_on: s.store.killswitches.activeScopes(),
    alerts_firing: s.store.alerts
      .states()
      .filter((a) => a.firing)
      .map((a) => ({ key: a.alert_key, severity: a.severity, since_ms: a.since_ms })),
  };
}

/** One incident as the runbook's evidence record. */
export function describeIncident(i: IncidentRow, log: readonly IncidentLogRow[] = []): string {
  const at = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());
  return [
    `${i.incident_id} ${i.severity} ${i.status.toUpperCase()} — opened ${at(i.opened_at_ms)} by ${i.owner}`,
    `scope: ${i.scope}`,
    `trigger: ${i.trigger_source}`,
    `failure mode: ${i.failure_mode}`,
    `containment: ${i.containment ?? "-"}`,
    `rollback / kill switch: ${i.rollback_action ?? "-"}`,
    `verification: ${i.verification ? `${i.verification_result ?? "?"} — ${i.verification}` : "-"}`,
    `follow-up: ${i.follow_up ?? "-"}`,
    ...(i.closed_at_ms !== null ? [`closed: ${at(i.closed_at_ms)}`] : []),
    ...log.map((l) => `  ${at(l.at_ms)} ${l.actor} ${l.action} (audit #${l.audit_seq})`),
  ].join("\n");
}

/** An incident by id, or a failed result saying it does not exist. */
function find(ctx: CapabilityContext, id: string): IncidentRow | ReturnType<typeof failed> {
  return ctx.services.store.incidents.get(id) ?? failed("incident_unknown", `No incident ${id} (see incident list).`);
}
const isRow = (r: IncidentRow | ReturnType<typeof failed>): r is IncidentRow => "incident_id" in r;

export const incidentOpenCapability = defineCapability({
  id: "communications.alerts.incident.open",
  alias: ["incident", "open"],
  summary: "open an incident: failure mode, scope, trigger or alert source, severity (captures health, switches, alerts)",
  args: z
    .object({
      failure_mode: text("the observed failure mode"),
      scope: z.string().trim().min(1).max(200).default("service"),
      trigger: z.string().trim().min(1).max(200).default("manual"),
      severity: SEVERITY.default("SEV-2"),
      follow_up: z.string().trim().max(2000).optional(),
    })
    .strict(),
  positional: ["failure_mode"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const s = ctx.services;
    const evidence = evidenceNow(s);
    const id = s.store.atomically(() => {
      const id = nextIncidentId(s, ctx.now);
      s.store.incidents.insert({
        incident_id: id,
        severity: args.severity,
        scope: args.scope,
        trigger_source: args.trigger,
        failure_mode: args.failure_mode,
        owner: ctx.principal,
        follow_up: args.follow_up ?? null,
        at_ms: ctx.now,
      });
      logAction(ctx, id, "open", { ...args, evidence }, "open");
      return id;
    });
    const row = s.store.incidents.get(id)!;
    return reported(
      "incident_opened",
      `Opened ${id}.\n${describeIncident(row)}\nhealth at open: ${evidence.health.state} (${evidence.health.reason_codes.join(", ")})`,
      {
        incident: row,
        evidence,
      },
    );
  },
});

export const incidentNoteCapability = defineCapability({
  id: "communications.alerts.incident.note",
  alias: ["incident", "note"],
  summary: "add a note (decision, observation) to an incident's log",
  args: z.object({ id: incidentId, text: text("the note") }).strict(),
  positional: ["id", "text"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const i = find(ctx, args.id);
    if (!isRow(i)) return i;
    ctx.services.store.atomically(() => {
      logAction(ctx, i.incident_id, "note", { text: args.text }, i.status);
      ctx.services.store.incidents.update({ ...i, updated_at_ms: ctx.now });
    });
    return reported("incident_noted", `Noted on ${i.incident_id}.`, { incident_id: i.incident_id });
  },
});

export const incidentContainCapability = defineCapability({
  id: "communications.alerts.incident.contain",
  alias: ["incident", "contain"],
  summary: "record the containment action, and the kill switch or rollback used (--kill-switch scope, --rollback text)",
  args: z
    .object({
      id: incidentId,
      action: text("the containment action"),
      kill_switch: z.string().trim().max(100).optional(),
      rollback: z.string().trim().max(2000).optional(),
    })
    .strict(),
  positional: ["id", "action"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const i = find(ctx, args.id);
    if (!isRow(i)) return i;
    if (i.status === "closed") return failed("incident_closed", `${i.incident_id} is closed.`);
    const s = ctx.services;
    // The switch's recorded state goes with the evidence: claimed and actual must agree in the record.
    const switchState = args.kill_switch ? { scope: args.kill_switch, is_on: s.store.killswitches.isOn(args.kill_switch) ?? false } : null;
    const rollback = [
      args.kill_switch ? `kill switch ${args.kill_switch} ${switchState?.is_on ? "on" : "NOT on"}` : null,
      args.rollback ?? null,
    ]
      .filter(Boolean)
      .join("; ");
    const next: IncidentRow = {
      ...i,
      status: i.status === "open" ? "contained" : i.status,
      containment: args.action,
      rollback_action: rollback || i.rollback_action,
      updated_at_ms: ctx.now,
    };
    s.store.atomically(() => {
      s.store.incidents.update(next);
      logAction(
        ctx,
        i.incident_id,
        "contain",
        { action: args.action, kill_switch: switchState, rollback: args.rollback ?? null },
        next.status,
      );
    });
    return reported("incident_contained", `${i.incident_id} contained: ${args.action}${rollback ? ` (${rollback})` : ""}.`, {
      incident: next,
    });
  },
});

export const incidentVerifyCapability = defineCapability({
  id: "communications.alerts.incident.verify",
  alias: ["incident", "verify"],
  summary: "record the verification and its result (--outcome pass|fail); the health verdict is captured with it",
  args: z.object({ id: incidentId, result: text("what was verified"), outcome: z.enum(["pass", "fail"]).default("pass") }).strict(),
  positional: ["id", "result"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const i = find(ctx, args.id);
    if (!isRow(i)) return i;
    if (i.status === "closed") return failed("incident_closed", `${i.incident_id} is closed.`);
    const s = ctx.services;
    const h = s.health();
    const next: IncidentRow = {
      ...i,
      status: args.outcome === "pass" ? "verified" : i.status,
      verification: args.result,
      verification_result: args.outcome,
      updated_at_ms: ctx.now,
    };
    s.store.atomically(() => {
      s.store.incidents.update(next);
      logAction(
        ctx,
        i.incident_id,
        "verify",
        { result: args.result, outcome: args.outcome, health: { state: h.state, reason_codes: h.reason_codes } },
        next.status,
      );
    });
    return reported("incident_verified", `${i.incident_id} verification ${args.outcome}: ${args.result} (health now ${h.state}).`, {
      incident: next,
      health: h.state,
    });
  },
});

export const incidentCloseCapability = defineCapability({
  id: "communications.alerts.incident.close",
  alias: ["incident", "close"],
  summary: "close an incident once verified, with the follow-up requirement (--follow-up text; --force without a pass)",
  args: z.object({ id: incidentId, follow_up: z.string().trim().min(1).max(2000).optional(), force: flag }).strict(),
  positional: ["id"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => {
    const i = find(ctx, args.id);
    if (!isRow(i)) return i;
    if (i.status === "closed") return failed("incident_closed", `${i.incident_id} is already closed.`);
    const followUp = args.follow_up ?? i.follow_up;
    if (!followUp) return failed("incident_follow_up_missing", `Say the follow-up requirement: --follow-up "…" (or "none").`);
    if (i.verification_result !== "pass" && !args.force)
      return failed(
        "incident_not_verified",
        `${i.incident_id} has no passing verification; record one with incident verify, or close with --force.`,
      );
    const next: IncidentRow = { ...i, status: "closed", follow_up: followUp, updated_at_ms: ctx.now, closed_at_ms: ctx.now };
    ctx.services.store.atomically(() => {
      ctx.services.store.incidents.update(next);
      logAction(ctx, i.incident_id, "close", { follow_up: followUp, forced: args.force && i.verification_result !== "pass" }, "closed");
    });
    return reported("incident_closed", `${i.incident_id} closed. Follow-up: ${followUp}.`, { incident: next });
  },
});

export const incidentListCapability = defineCapability({
  id: "communications.alerts.incident.list",
  alias: ["incident", "list"],
  summary: "incidents not closed (--all for the 50 most recent)",
  args: z.object({ all: flag }).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) => {
    const rows = args.all ? ctx.services.store.incidents.recent(50) : ctx.services.store.incidents.open();
    const lines = rows.map((i) => `${i.incident_id} ${i.severity} ${i.status} (${i.scope}): ${i.failure_mode}`);
    return reported("incident_list", lines.length ? lines.join("\n") : args.all ? "No incidents recorded." : "No open incidents.", {
      incidents: rows,
    });
  },
});

export const incidentShowCapability = defineCapability({
  id: "communications.alerts.incident.show",
  alias: ["incident", "show"],
  summary: "one incident's evidence record and its action log",
  args: z.object({ id: incidentId }).strict(),
  positional: ["id"],
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) => {
    const i = find(ctx, args.id);
    if (!isRow(i)) return i;
    const log = ctx.services.store.incidents.logOf(i.incident_id);
    return reported("incident_show", describeIncident(i, log), {
      incident: i,
      log: log.map((l) => ({ ...l, detail: JSON.parse(l.detail) as unknown })),
    });
  },
});

export const INCIDENT_CAPABILITIES = [
  incidentOpenCapability,
  incidentNoteCapability,
  incidentContainCapability,
  incidentVerifyCapability,
  incidentCloseCapability,
  incidentListCapability,
  incidentShowCapability,
];
