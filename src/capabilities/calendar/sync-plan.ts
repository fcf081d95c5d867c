/**
 * @module `calendar.sync.plan` (`/tau calendar sync plan <file|https-url> [--calendar C]`, operator): read an ICS
 * source, compare it by UID with the calendar (its copy refreshed now), and store a plan — creates, updates, deletes,
 * what is unchanged and what is skipped — with the calendar's sync-token, returning a `plan_id` for `sync execute`.
 * Nothing is written to the calendar here.
 */
import { z } from "zod";
import { commandHint, defineCapability, failed, reported, type Capability, type CapabilityResult } from "../capability.ts";
import { text } from "./calendar-args.ts";
import { calendarLabel, withCalendar, type CalendarRuntime, type CalendarSession } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { freshCalendar } from "./event-lookup.ts";
import { readIcsSource } from "./ics-source.ts";
import { markersOf, planIcsSync, sourceObjects, type SyncAction } from "./plan-ics-sync.ts";
import { formatInstant } from "./zoned-time.ts";

const Args = z.object({ source: text(2000), calendar: text(200).optional() }).strict();
type Args = z.infer<typeof Args>;

/** Counts of a plan, as stored and shown. */
export interface SyncCounts {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
  skipped: number;
}

export const actionLine = (a: Pick<SyncAction, "op" | "uid" | "summary">) => `${a.op} ${a.uid}${a.summary ? ` "${a.summary}"` : ""}`;

async function plan(s: CalendarSession, args: Args, rt: CalendarRuntime): Promise<CapabilityResult> {
  const src = await readIcsSource(args.source, s.contract, s.ctx.surface, rt.fetchSource, (id) => s.services.secret(id));
  let parsed;
  try {
    parsed = s.codec.parseIcs(src.text);
  } catch (err) {
    if (err instanceof CalendarError)
      return failed(err.reason, `Sync plan: ${src.label} is not valid iCalendar: ${err.message}.`, { source: src.label });
    throw err;
  }
  const cal = await freshCalendar(s, args.calendar);
  const existing = s.store.allObjects(s.account, cal.url).map((r) => ({ uid: r.uid, href: r.href, etag: r.etag, ...markersOf(r.data) }));
  const body = planIcsSync(src.key, sourceObjects(parsed, src.key, s.codec), existing);
  const tags = s.store.collection(s.account, cal.url);
  const counts: SyncCounts = {
    create: body.actions.filter((a) => a.op === "create").length,
    update: body.actions.filter((a) => a.op === "update").length,
    delete: body.actions.filter((a) => a.op === "delete").length,
    unchanged: body.unchanged.length,
    skipped: body.skipped.length,
  };
  const planId = `cs_${Buffer.from(s.services.randomBytes(8)).toString("hex")}`;
  const expires = s.ctx.now + s.contract.sync.plan_ttl_minutes * 60_000;
  s.services.store.atomically(() => {
    s.store.insertSyncPlan({
      plan_id: planId,
      account: s.account,
      calendar_url: cal.url,
      source_key: src.key,
      source_label: src.label,
      source_sha256: src.sha256,
      base_sync_token: tags?.sync_token ?? null,
      base_ctag: tags?.ctag ?? null,
      actions: JSON.stringify(body.actions),
      counts: JSON.stringify(counts),
      requested_by: s.ctx.principal,
      created_at_ms: s.ctx.now,
      expires_at_ms: expires,
    });
    s.services.audit({
      actor: s.ctx.principal,
      surface: s.ctx.surface,
      action: "calendar.sync.plan",
      target: planId,
      args: { source: src.label, source_key: src.key, calendar: calendarLabel(cal), counts },
      outcome: "ready",
      reason_code: "calendar_sync_planned",
    });
  });
  const tz = s.contract.caldav.time_zone;
  const data = {
    plan_id: planId,
    calendar: calendarLabel(cal),
    source: src.label,
    source_key: src.key,
    source_sha256: src.sha256,
    base_sync_token: tags?.sync_token ?? null,
    counts,
    actions: body.actions.map((a) => ({ op: a.op, uid: a.uid, summary: a.summary })),
    unchanged: body.unchanged,
    skipped: body.skipped,
    expires_at: formatInstant(expires, tz),
  };
  const head = `Sync plan ${planId}: ${src.label} → ${calendarLabel(cal)}: ${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ${counts.unchanged} unchanged, ${counts.skipped} skipped.`;
  const lines = [
    ...body.actions.slice(0, 20).map(actionLine),
    ...(body.actions.length > 20 ? [`… and ${body.actions.length - 20} more`] : []),
    ...body.skipped.slice(0, 10).map((k) => `skipped ${k.uid ?? "(no UID)"}: ${k.reason_code} (${k.detail})`),
  ];
  const next =
    body.actions.length === 0
      ? "Nothing to do: the calendar already matches the source."
      : `Apply it: ${commandHint(s.ctx, "calendar.sync.execute", [planId])} (expires ${data.expires_at.slice(11, 16)}).`;
  return reported(body.actions.length ? "calendar_sync_planned" : "calendar_sync_nothing_to_do", [head, ...lines, next].join("\n"), data);
}

export function createSyncPlanCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.sync.plan",
    alias: ["calendar", "sync", "plan"],
    summary: "plan bringing an ICS file or https URL into a calendar (creates, updates, deletes by UID); returns a plan_id",
    args: Args,
    positional: ["source"],
    role: "operator",
    // Only a plan in tau's own state (like send preview): the calendar is not touched.
    sideEffect: "read",
    approval: "none",
    run: (args, ctx) => withCalendar(ctx, rt, "Sync plan", (s) => plan(s, args, rt)),
  });
}
