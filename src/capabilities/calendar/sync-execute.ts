/**
 * @module `calendar.sync.execute` (`/tau calendar sync execute <plan_id>`, operator, confirm): apply a stored plan at
 * most once. Refuses unknown, expired and already executed plans, and a plan whose calendar moved since it was made
 * (its sync-token, else its ctag, differs: `calendar_sync_plan_stale` — plan again). Each write is conditional
 * (`If-None-Match: *` on creates, `If-Match` on updates and deletes), so a change that slips in between is a
 * per-event `calendar_conflict`, never overwritten. A server failure stops the run; planning again picks up where it
 * stopped, because what was written carries its markers.
 */
import { z } from "zod";
import { commandHint, defineCapability, failed, reported, type Capability, type CapabilityResult } from "../capability.ts";
import type { CalendarSyncPlanRow } from "../../store/index.ts";
import { text } from "./calendar-args.ts";
import { calendarLabel, withCalendar, type CalendarRuntime, type CalendarSession } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { rememberObject } from "./mirror.ts";
import type { SyncAction } from "./plan-ics-sync.ts";
import type { SyncCounts } from "./sync-plan.ts";

const Args = z.object({ plan_id: text(64) }).strict();
type Args = z.infer<typeof Args>;

interface ActionOutcome {
  op: SyncAction["op"];
  uid: string;
  outcome: "done" | "conflict" | "gone" | "not_run";
  reason_code: string;
}

/** Apply one action; a conflict is an outcome, any other failure is thrown (the run stops). */
async function apply(s: CalendarSession, calUrl: string, a: SyncAction): Promise<ActionOutcome> {
  const cal = s.store.collection(s.account, calUrl)!;
  try {
    if (a.op === "create") {
      const w = await s.client.create(calUrl, a.filename, a.data);
      rememberObject(s, cal, { href: w.href, etag: w.etag, data: a.data });
    } else if (a.op === "update") {
      if (!a.etag) return { op: a.op, uid: a.uid, outcome: "conflict", reason_code: "calendar_conflict" };
      const w = await s.client.update(a.href, a.data, a.etag);
      rememberObject(s, cal, { href: a.href, etag: w.etag, data: a.data });
    } else {
      if (!a.etag) return { op: a.op, uid: a.uid, outcome: "conflict", reason_code: "calendar_conflict" };
      await s.client.remove(a.href, a.etag);
      s.store.dropObject(s.account, calUrl, a.href);
    }
    return {
      op: a.op,
      uid: a.uid,
      outcome: "done",
      reason_code: `calendar_event_${a.op === "create" ? "created" : a.op === "update" ? "updated" : "deleted"}`,
    };
  } catch (err) {
    if (err instanceof CalendarError && err.reason === "calendar_conflict")
      return { op: a.op, uid: a.uid, outcome: "conflict", reason_code: err.reason };
    if (err instanceof CalendarError && err.reason === "calendar_not_found" && a.op === "delete") {
      s.store.dropObject(s.account, calUrl, a.href);
      return { op: a.op, uid: a.uid, outcome: "gone", reason_code: "calendar_event_not_found" };
    }
    throw err;
  }
}

async function execute(s: CalendarSession, args: Args): Promise<CapabilityResult> {
  const audit = (outcome: string, reason: string, extra: Record<string, unknown> = {}) =>
    s.services.audit({
      actor: s.ctx.principal,
      surface: s.ctx.surface,
      action: "calendar.sync.execute",
      target: args.plan_id,
      args: { plan_id: args.plan_id, ...extra },
      outcome,
      reason_code: reason,
    });
  const refuse = (reason: string, text: string, data: Record<string, unknown> = {}) => {
    audit("refused", reason);
    return failed(reason, text, { plan_id: args.plan_id, ...data });
  };
  const p: CalendarSyncPlanRow | undefined = s.store.syncPlan(args.plan_id);
  if (!p)
    return refuse(
      "calendar_sync_plan_unknown",
      `No sync plan ${args.plan_id}. Run ${commandHint(s.ctx, "calendar.sync.plan", ["<source>"])} first.`,
    );
  if (p.status !== "ready")
    return refuse(
      "calendar_sync_plan_already_executed",
      `Sync plan ${args.plan_id} was already executed (${p.status}); each plan runs at most once. Plan again.`,
    );
  if (s.ctx.now >= p.expires_at_ms)
    return refuse(
      "calendar_sync_plan_expired",
      `Sync plan ${args.plan_id} expired at ${new Date(p.expires_at_ms).toISOString()}; plan again.`,
    );
  const cal = s.store.collection(s.account, p.calendar_url);
  if (p.account !== s.account || !cal)
    return refuse(
      "calendar_sync_plan_stale",
      `Sync plan ${args.plan_id} was made for another account or calendar than the contract names now; plan again.`,
    );
  const now = await s.client.tags(cal.url);
  const moved =
    p.base_sync_token !== null && now.syncToken !== null
      ? p.base_sync_token !== now.syncToken
      : p.base_ctag !== null && now.ctag !== null
        ? p.base_ctag !== now.ctag
        : false;
  if (moved)
    return refuse(
      "calendar_sync_plan_stale",
      `Sync plan ${args.plan_id}: ${calendarLabel(cal)} changed since the plan (its sync-token moved); nothing was written. Plan again.`,
      { base_sync_token: p.base_sync_token, sync_token: now.syncToken },
    );
  // Claim the plan first (compare-and-set), so two approvals racing cannot both run it.
  if (!s.services.store.atomically(() => s.store.transitionSyncPlan(p.plan_id, "ready", "executing", s.ctx.now)))
    return refuse("calendar_sync_plan_already_executed", `Sync plan ${args.plan_id} was already executed; each plan runs at most once.`);
  const actions = JSON.parse(p.actions) as SyncAction[];
  const outcomes: ActionOutcome[] = [];
  let stopped: CalendarError | null = null;
  for (const a of actions) {
    if (stopped) {
      outcomes.push({ op: a.op, uid: a.uid, outcome: "not_run", reason_code: stopped.reason });
      continue;
    }
    try {
      outcomes.push(await apply(s, cal.url, a));
    } catch (err) {
      if (!(err instanceof CalendarError)) throw err;
      stopped = err;
      outcomes.push({ op: a.op, uid: a.uid, outcome: "not_run", reason_code: err.reason });
    }
  }
  const count = (o: ActionOutcome["outcome"]) => outcomes.filter((x) => x.outcome === o).length;
  const summary = { done: count("done"), conflicts: count("conflict"), gone: count("gone"), not_run: count("not_run") };
  const reason = stopped ? stopped.reason : summary.conflicts ? "calendar_conflict" : "calendar_sync_executed";
  const result = {
    plan_id: p.plan_id,
    calendar: calendarLabel(cal),
    source: p.source_label,
    counts: JSON.parse(p.counts) as SyncCounts,
    ...summary,
    outcomes,
  };
  s.services.store.atomically(() => {
    s.store.finishSyncPlan(p.plan_id, stopped || summary.conflicts ? "failed" : "executed", result, s.ctx.now);
    audit(stopped || summary.conflicts ? "partial" : "executed", reason, { ...summary, source: p.source_label });
  });
  const head = `Sync ${p.plan_id} (${p.source_label} → ${calendarLabel(cal)}): ${summary.done} of ${actions.length} change(s) applied`;
  if (stopped)
    return failed(reason, `${head}; stopped: ${stopped.message}. Plan again to finish (what was written is recognised).`, result);
  if (summary.conflicts)
    return failed(
      reason,
      `${head}; ${summary.conflicts} event(s) changed on the server in between and were left alone: ${outcomes
        .filter((o) => o.outcome === "conflict")
        .map((o) => o.uid)
        .join(", ")}.`,
      result,
    );
  return reported(reason, actions.length ? `${head}.` : `${head}: nothing to do, the calendar already matched.`, result);
}

export function createSyncExecuteCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.sync.execute",
    alias: ["calendar", "sync", "execute"],
    summary: "apply a sync plan (once); refused when the calendar changed since the plan",
    args: Args,
    positional: ["plan_id"],
    role: "operator",
    sideEffect: "write",
    approval: "confirm",
    run: (args, ctx) => withCalendar(ctx, rt, "Sync execute", (s) => execute(s, args)),
  });
}
