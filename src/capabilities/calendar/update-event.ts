/**
 * @module `calendar.events.update` (`/tau calendar update <uid> [--etag E] [--summary …] [--start T] …`, operator,
 * confirm): change the master event of a UID with `If-Match` on the ETag — the one given (what the operator saw), else
 * the one tau's freshly refreshed copy holds. A 412 is `calendar_conflict` with the server's current version; the
 * event is never overwritten. Overrides (RECURRENCE-ID) and unknown properties are kept; SEQUENCE goes up by one.
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability, type CapabilityResult } from "../capability.ts";
import { isValidTimeZone } from "../../policy/quiet-hours.ts";
import { text, uidArg } from "./calendar-args.ts";
import { calendarLabel, withCalendar, type CalendarRuntime, type CalendarSession } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { conflictResult, describeVersion, etagOf, freshCalendar, objectOf } from "./event-lookup.ts";
import type { Codec } from "./codec.ts";
import type { EventPatch } from "./ical-codec.ts";
import { ianaNameOf, type IcsTime } from "./ics-text.ts";
import { rememberObject } from "./mirror.ts";
import { endAfter, instantOfTime, parseDuration, parseEventTime } from "./time-args.ts";

const Args = z
  .object({
    uid: uidArg,
    etag: text(300).optional(),
    summary: text(500).optional(),
    start: text(40).optional(),
    end: text(40).optional(),
    duration: text(20).optional(),
    time_zone: z.string().refine(isValidTimeZone, "an IANA time zone such as Europe/Berlin").optional(),
    location: z.string().max(500).optional(),
    description: z.string().max(4000).optional(),
    /** A new rule, or `none` to make the event single. */
    rrule: text(500).optional(),
    calendar: text(200).optional(),
  })
  .strict();
type Args = z.infer<typeof Args>;

const CHANGES = ["summary", "start", "end", "duration", "location", "description", "rrule"] as const;

/** The patch the arguments ask for, read in the event's zone; a start alone keeps the event's length. */
function patchOf(
  args: Args,
  master: { start: IcsTime; end: IcsTime | null; durationSeconds: number | null },
  tz: string,
  codec: Pick<Codec, "rruleProblem">,
): EventPatch | string {
  const patch: EventPatch = {};
  if (args.summary !== undefined) patch.summary = args.summary;
  if (args.location !== undefined) patch.location = args.location === "" ? null : args.location;
  if (args.description !== undefined) patch.description = args.description === "" ? null : args.description;
  if (args.rrule !== undefined) {
    if (args.rrule.toLowerCase() === "none") patch.rrule = null;
    else {
      const problem = codec.rruleProblem(args.rrule);
      if (problem) return `invalid RRULE "${args.rrule}": ${problem}`;
      patch.rrule = args.rrule;
    }
  }
  const oldStart = instantOfTime(master.start, tz);
  const oldLength = master.end ? instantOfTime(master.end, tz) - oldStart : (master.durationSeconds ?? 0) * 1000;
  if (args.start !== undefined) {
    const s = parseEventTime(args.start, tz, "start");
    if (!s.ok) return s.detail;
    patch.start = s.value;
  }
  if (args.end !== undefined) {
    const e = parseEventTime(args.end, tz, "end");
    if (!e.ok) return e.detail;
    patch.end = e.value;
  } else if (args.duration !== undefined) {
    const d = parseDuration(args.duration);
    if (!d.ok) return d.detail;
    patch.end = endAfter(patch.start ?? master.start, d.value, tz);
  } else if (patch.start) patch.end = endAfter(patch.start, Math.max(0, oldLength / 1000), tz);
  const start = patch.start ?? master.start;
  if (patch.end && patch.end.dateOnly !== start.dateOnly) return "start and end must both be dates (all day) or both times";
  if (patch.end && instantOfTime(patch.end, tz) <= instantOfTime(start, tz)) return "end must be after start";
  return patch;
}

async function update(s: CalendarSession, args: Args): Promise<CapabilityResult> {
  if (!CHANGES.some((k) => args[k] !== undefined))
    return failed(
      "calendar_args_invalid",
      `Update ${args.uid}: nothing to change (give --summary, --start, --end, --duration, --location, --description or --rrule).`,
    );
  const cal = await freshCalendar(s, args.calendar);
  const row = objectOf(s, cal, args.uid);
  const known = await etagOf(s, cal, row);
  const etag = args.etag ?? known.etag;
  const parsed = s.codec.parseIcs(known.data);
  const master = parsed.events.find((e) => e.uid === args.uid && !e.recurrenceId);
  if (!master) throw new CalendarError("calendar_ics_invalid", `${row.href}: no readable master VEVENT for UID ${args.uid}`);
  const tz = args.time_zone ?? (master.start.tzid && ianaNameOf(master.start.tzid)) ?? s.contract.caldav.time_zone;
  const patch = patchOf(args, master, tz, s.codec);
  if (typeof patch === "string")
    return failed(patch.startsWith("invalid RRULE") ? "calendar_ics_invalid" : "calendar_args_invalid", `Update ${args.uid}: ${patch}.`);
  const next = s.codec.patchEvent(known.data, args.uid, patch, s.ctx.now);
  let written: { etag: string | null };
  try {
    written = await s.client.update(row.href, next, etag);
  } catch (err) {
    if (err instanceof CalendarError && err.reason === "calendar_conflict")
      return conflictResult(s, cal, row.href, args.uid, etag, "Update");
    if (err instanceof CalendarError && err.reason === "calendar_not_found") {
      s.store.dropObject(s.account, cal.url, row.href);
      throw new CalendarError("calendar_event_not_found", `${args.uid} is gone from ${calendarLabel(cal)}`, { httpStatus: err.httpStatus });
    }
    throw err;
  }
  const stored = written.etag
    ? { href: row.href, etag: written.etag, data: next }
    : ((await s.client.get(row.href)) ?? { href: row.href, etag: null, data: next });
  rememberObject(s, cal, stored);
  const v = describeVersion(stored, s.contract.caldav.time_zone, s.codec);
  return reported(
    "calendar_event_updated",
    `Updated in ${calendarLabel(cal)}: "${v.summary}" ${v.start} – ${v.end} (SEQUENCE ${v.sequence}). ETag ${etag} → ${stored.etag ?? "(none)"}.`,
    { uid: args.uid, calendar: calendarLabel(cal), previous_etag: etag, ...v },
  );
}

export function createUpdateEventCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.events.update",
    alias: ["calendar", "update"],
    summary: "change an event by UID with If-Match on its ETag (a changed event is a conflict, never overwritten)",
    args: Args,
    positional: ["uid"],
    role: "operator",
    sideEffect: "write",
    approval: "confirm",
    run: (args, ctx) => withCalendar(ctx, rt, "Update event", (s) => update(s, args)),
  });
}
