/**
 * @module `calendar.events.create` (`/tau calendar create <summary> --start T [--end T | --duration D] …`, operator,
 * confirm): one event written with `If-None-Match: *`. Its UID is stable: the one given, else derived from the
 * arguments, so a create retried after a timeout finds its own event (`calendar_event_exists`) instead of a duplicate;
 * another event already at that UID is a `calendar_conflict`, never overwritten.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { defineCapability, failed, reported, type Capability, type CapabilityResult } from "../capability.ts";
import { isValidTimeZone } from "../../policy/quiet-hours.ts";
import { text, uidArg } from "./calendar-args.ts";
import { calendarLabel, withCalendar, type CalendarRuntime, type CalendarSession } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { canonicalHref, fileNameFor } from "./dav-port.ts";
import { describeVersion, freshCalendar } from "./event-lookup.ts";
import type { IcsTime } from "./ics-text.ts";
import { rememberObject } from "./mirror.ts";
import { endAfter, parseDuration, parseEventTime, type Parsed } from "./time-args.ts";
import { wallAsUtc } from "./zoned-time.ts";

const Args = z
  .object({
    summary: text(500),
    start: text(40),
    end: text(40).optional(),
    duration: text(20).optional(),
    time_zone: z.string().refine(isValidTimeZone, "an IANA time zone such as Europe/Berlin").optional(),
    location: text(500).optional(),
    description: text(4000).optional(),
    rrule: text(500).optional(),
    uid: uidArg.optional(),
    calendar: text(200).optional(),
  })
  .strict();
type Args = z.infer<typeof Args>;

/** Start and end from the arguments (end, else duration, else one hour or one day). */
export function eventTimes(
  a: { start: string; end?: string | undefined; duration?: string | undefined },
  tz: string,
): Parsed<{ start: IcsTime; end: IcsTime }> {
  const start = parseEventTime(a.start, tz, "start");
  if (!start.ok) return start;
  let end: IcsTime;
  if (a.end !== undefined) {
    const e = parseEventTime(a.end, tz, "end");
    if (!e.ok) return e;
    end = e.value;
  } else if (a.duration !== undefined) {
    const d = parseDuration(a.duration);
    if (!d.ok) return d;
    end = endAfter(start.value, d.value, tz);
  } else end = endAfter(start.value, start.value.dateOnly ? 86_400 : 3600, tz);
  if (end.dateOnly !== start.value.dateOnly) return { ok: false, detail: "start and end must both be dates (all day) or both times" };
  if (wallAsUtc(end.wall) <= wallAsUtc(start.value.wall) && end.tzid === start.value.tzid)
    return { ok: false, detail: "end must be after start" };
  return { ok: true, value: { start: start.value, end } };
}

/** The UID of a create without one: a hash of what it creates, so a retry lands on the same event. */
function derivedUid(calendar: string, a: Args, tz: string): string {
  const basis = JSON.stringify([calendar, a.summary, a.start, a.end ?? null, a.duration ?? null, tz, a.rrule ?? null]);
  return `tau-${createHash("sha256").update(basis).digest("hex").slice(0, 32)}`;
}

async function create(s: CalendarSession, args: Args): Promise<CapabilityResult> {
  const tz = args.time_zone ?? s.contract.caldav.time_zone;
  const times = eventTimes(args, tz);
  if (!times.ok) return failed("calendar_args_invalid", `Create: ${times.detail}.`);
  if (args.rrule) {
    const problem = s.codec.rruleProblem(args.rrule);
    if (problem) return failed("calendar_ics_invalid", `Create: invalid RRULE "${args.rrule}": ${problem}.`, { rrule: args.rrule });
  }
  const cal = await freshCalendar(s, args.calendar);
  const uid = args.uid ?? derivedUid(cal.url, args, tz);
  const data = s.codec.serializeNewEvent(
    {
      uid,
      summary: args.summary,
      ...times.value,
      location: args.location ?? null,
      description: args.description ?? null,
      rrule: args.rrule ?? null,
    },
    s.ctx.now,
  );
  const filename = fileNameFor(uid);
  let written: { href: string; etag: string | null };
  try {
    written = await s.client.create(cal.url, filename, data);
  } catch (err) {
    if (!(err instanceof CalendarError) || err.reason !== "calendar_conflict") throw err;
    const href = canonicalHref(filename, cal.url);
    const existing = await s.client.get(href);
    if (existing) rememberObject(s, cal, existing);
    const version = existing ? describeVersion(existing, tz, s.codec) : null;
    const mine = existing ? describeVersion({ href, etag: null, data }, tz, s.codec) : null;
    if (version && mine && version.summary === mine.summary && version.start === mine.start && version.end === mine.end)
      return reported(
        "calendar_event_exists",
        `Already in ${calendarLabel(cal)}: "${args.summary}" (UID ${uid}, ETag ${version.etag}); nothing written.`,
        {
          uid,
          ...version,
        },
      );
    return failed(
      "calendar_conflict",
      `Create ${uid}: another event already has this UID in ${calendarLabel(cal)} (ETag ${version?.etag ?? "?"}: "${version?.summary ?? "?"}"); nothing was overwritten.`,
      { uid, href, current: version },
    );
  }
  const stored = written.etag
    ? { href: written.href, etag: written.etag, data }
    : ((await s.client.get(written.href)) ?? { ...written, data });
  rememberObject(s, cal, stored);
  const v = describeVersion(stored, tz, s.codec);
  return reported(
    "calendar_event_created",
    `Created in ${calendarLabel(cal)}: "${args.summary}" ${v.start} – ${v.end}${args.rrule ? ` (${args.rrule})` : ""}. UID ${uid}, ETag ${stored.etag ?? "(none)"}.`,
    { uid, calendar: calendarLabel(cal), ...v },
  );
}

export function createCreateEventCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.events.create",
    alias: ["calendar", "create"],
    summary: "create an event (stable UID; never overwrites another event)",
    args: Args,
    positional: ["summary"],
    role: "operator",
    sideEffect: "write",
    approval: "confirm",
    run: (args, ctx) => withCalendar(ctx, rt, "Create event", (s) => create(s, args)),
  });
}
