/**
 * @module `calendar.events.delete` (`/tau calendar delete <uid> [--etag E]`, operator, confirm): delete the object of
 * a UID (a recurring event with all its occurrences) with `If-Match` on the ETag; a 412 is `calendar_conflict` with
 * the server's current version, and nothing is deleted.
 */
import { z } from "zod";
import { defineCapability, reported, type Capability, type CapabilityResult } from "../capability.ts";
import { text, uidArg } from "./calendar-args.ts";
import { calendarLabel, withCalendar, type CalendarRuntime, type CalendarSession } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { conflictResult, describeVersion, etagOf, freshCalendar, objectOf } from "./event-lookup.ts";

const Args = z.object({ uid: uidArg, etag: text(300).optional(), calendar: text(200).optional() }).strict();
type Args = z.infer<typeof Args>;

async function remove(s: CalendarSession, args: Args): Promise<CapabilityResult> {
  const cal = await freshCalendar(s, args.calendar);
  const row = objectOf(s, cal, args.uid);
  const known = await etagOf(s, cal, row);
  const etag = args.etag ?? known.etag;
  const was = describeVersion({ href: row.href, etag: known.etag, data: known.data }, s.contract.caldav.time_zone, s.codec);
  try {
    await s.client.remove(row.href, etag);
  } catch (err) {
    if (err instanceof CalendarError && err.reason === "calendar_conflict")
      return conflictResult(s, cal, row.href, args.uid, etag, "Delete");
    if (!(err instanceof CalendarError) || err.reason !== "calendar_not_found") throw err;
    s.store.dropObject(s.account, cal.url, row.href);
    throw new CalendarError("calendar_event_not_found", `${args.uid} is already gone from ${calendarLabel(cal)}`, {
      httpStatus: err.httpStatus,
    });
  }
  s.store.dropObject(s.account, cal.url, row.href);
  return reported(
    "calendar_event_deleted",
    `Deleted from ${calendarLabel(cal)}: "${was.summary}" ${was.start ?? ""}${was.recurring ? " (every occurrence)" : ""}. UID ${args.uid}, ETag ${etag}.`,
    { uid: args.uid, calendar: calendarLabel(cal), deleted: was },
  );
}

export function createDeleteEventCapability(rt: CalendarRuntime): Capability<Args> {
  return defineCapability({
    id: "calendar.events.delete",
    alias: ["calendar", "delete"],
    summary: "delete an event by UID with If-Match on its ETag (a changed event is a conflict, never deleted)",
    args: Args,
    positional: ["uid"],
    role: "operator",
    sideEffect: "write",
    approval: "confirm",
    run: (args, ctx) => withCalendar(ctx, rt, "Delete event", (s) => remove(s, args)),
  });
}
