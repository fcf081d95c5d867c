/**
 * @module What the write capabilities share: the event with a UID in tau's copy (refreshed from the server first),
 * its current ETag, and a short description of a version (for conflict answers: what is on the server now).
 */
import { failed, type CapabilityResult } from "../capability.ts";
import type { CalendarObjectRow } from "../../store/index.ts";
import { resolveCalendar, type CalendarSession, type ResolvedCalendar } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import type { DavObject } from "./dav-port.ts";
import type { Codec } from "./codec.ts";
import { refreshResolved, rememberObject } from "./mirror.ts";
import { formatInstant, formatWall } from "./zoned-time.ts";
import { instantOfTime } from "./time-args.ts";

/** The calendar, its copy brought up to date now (writes never act on a stale copy). */
export async function freshCalendar(s: CalendarSession, name: string | undefined): Promise<ResolvedCalendar> {
  const first = await resolveCalendar(s, name);
  const { cal } = await refreshResolved(s, first, 0, () => resolveCalendar(s, name, { rediscover: true }));
  return cal;
}

/** The stored object holding `uid`, or `calendar_event_not_found`. */
export function objectOf(s: CalendarSession, cal: ResolvedCalendar, uid: string): CalendarObjectRow {
  const row = s.store.objectsByUid(s.account, cal.url, uid)[0];
  if (!row) throw new CalendarError("calendar_event_not_found", `no event with UID ${uid} in ${cal.display_name}`);
  return row;
}

/** The object's ETag as the server has it (asked for when the server gave none on the last write). */
export async function etagOf(s: CalendarSession, cal: ResolvedCalendar, row: CalendarObjectRow): Promise<{ etag: string; data: string }> {
  if (row.etag) return { etag: row.etag, data: row.data };
  const now = await s.client.get(row.href);
  if (!now) throw new CalendarError("calendar_event_not_found", `${row.href} is gone from the server`);
  if (!now.etag) throw new CalendarError("calendar_server_error", `${row.href}: the server gives no ETag, so it cannot be changed safely`);
  rememberObject(s, cal, now);
  return { etag: now.etag, data: now.data };
}

/** A short description of a stored version: ETag, summary, start/end of the master event, SEQUENCE. */
export function describeVersion(o: DavObject, tz: string, codec: Pick<Codec, "parseIcs">) {
  try {
    const ev = codec.parseIcs(o.data).events.find((e) => !e.recurrenceId) ?? null;
    if (!ev) return { href: o.href, etag: o.etag, summary: null, start: null, end: null, sequence: null, recurring: false };
    const when = (t: typeof ev.start | null) =>
      t === null ? null : t.dateOnly ? formatWall(t.wall).slice(0, 10) : formatInstant(instantOfTime(t, tz), tz);
    return {
      href: o.href,
      etag: o.etag,
      summary: ev.summary,
      start: when(ev.start),
      end: when(ev.end),
      sequence: ev.sequence,
      recurring: ev.rule !== null,
    };
  } catch {
    return { href: o.href, etag: o.etag, summary: null, start: null, end: null, sequence: null, recurring: false };
  }
}

/**
 * The answer to a 412: the server's current version (remembered in tau's copy), never overwritten. `what` names the
 * operation for the text.
 */
export async function conflictResult(
  s: CalendarSession,
  cal: ResolvedCalendar,
  href: string,
  uid: string,
  sentEtag: string,
  what: string,
): Promise<CapabilityResult> {
  const current = await s.client.get(href);
  if (current) rememberObject(s, cal, current);
  else s.store.dropObject(s.account, cal.url, href);
  const version = current ? describeVersion(current, s.contract.caldav.time_zone, s.codec) : null;
  const now = version
    ? `The server has ETag ${version.etag}: "${version.summary}" ${version.start ?? ""}–${version.end ?? ""} (SEQUENCE ${version.sequence}).`
    : "The event is gone from the server.";
  return failed(
    "calendar_conflict",
    `${what} ${uid}: not done — the event changed on the server since ETag ${sentEtag}; nothing was overwritten. ${now} Look at it and ${what.toLowerCase()} again with --etag ${version?.etag ?? "…"}.`,
    { uid, href, sent_etag: sentEtag, current: version },
  );
}
