/**
 * @module Recurrence expansion: the occurrences of read events that overlap a window. RRULE and RDATE are expanded on
 * the wall clock of the event's own zone (so a weekly 09:00 Europe/Berlin meeting stays at 09:00 across DST), then
 * EXDATEs are removed and RECURRENCE-ID overrides replace the occurrence they name — matched as instants, so an
 * override written in UTC still finds its occurrence. Zones: an IANA TZID is read from the IANA database (embedded
 * VTIMEZONEs are often truncated to the current rule), any other TZID from its VTIMEZONE, floating and all-day times
 * in the display zone. Pure.
 */
import type { IcsCalendar, IcsEvent, IcsRefusal } from "./ical-codec.ts";
import { ianaNameOf, type IcsTime } from "./ics-text.ts";
import { formatDate, instantToWall, utcAsWall, wallAsUtc, wallToInstant, type WallTime } from "./zoned-time.ts";

/** One occurrence of an event inside the window. */
export interface Occurrence {
  uid: string;
  summary: string;
  location: string | null;
  description: string | null;
  status: string | null;
  startMs: number;
  endMs: number;
  allDay: boolean;
  /** All-day occurrences: first day and the day after the last (`2026-12-07`, `2026-12-08`). */
  startDate: string | null;
  endDate: string | null;
  /** The zone the event is written in: a TZID, `UTC`, or `floating`. */
  eventZone: string;
  /** For occurrences of a recurring event: the original start (ISO UTC) that identifies it (RECURRENCE-ID). */
  recurrenceId: string | null;
  recurring: boolean;
  /** True when a RECURRENCE-ID component replaced the generated occurrence. */
  overridden: boolean;
}

export interface ExpandWindow {
  fromMs: number;
  toMs: number;
  /** IANA zone for floating and all-day times. */
  displayZone: string;
}

/** Wall-clock steps one recurring event may take before expansion stops (a MINUTELY rule from 1990…). */
export const MAX_RECURRENCE_STEPS = 200_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Zone offsets stay within −12 h … +14 h; a wall time read as UTC is this close to its instant. */
const MAX_OFFSET_MS = 15 * HOUR_MS;

/** Wall ↔ instant for the zone an ICS time names. */
interface Zone {
  name: string;
  toInstant(w: WallTime): number;
  toWall(ms: number): WallTime;
}

function zoneOf(t: IcsTime, cal: Pick<IcsCalendar, "zones">, displayZone: string): Zone {
  if (t.tzid === "UTC") return { name: "UTC", toInstant: wallAsUtc, toWall: utcAsWall };
  if (t.tzid === null || t.dateOnly)
    return {
      name: t.dateOnly ? displayZone : "floating",
      toInstant: (w) => wallToInstant(w, displayZone),
      toWall: (ms) => instantToWall(ms, displayZone),
    };
  const iana = ianaNameOf(t.tzid);
  if (iana) return { name: t.tzid, toInstant: (w) => wallToInstant(w, iana), toWall: (ms) => instantToWall(ms, iana) };
  const offset = cal.zones.get(t.tzid);
  if (!offset) throw new Error(`TZID ${t.tzid} has no VTIMEZONE and is not an IANA time zone`);
  return {
    name: t.tzid,
    toInstant: (w) => wallAsUtc(w) - offset(w),
    toWall: (ms) => {
      const guess = utcAsWall(ms + offset(utcAsWall(ms)));
      return utcAsWall(ms + offset(guess));
    },
  };
}

/** The instant an ICS time stands for. */
function instantOf(t: IcsTime, cal: Pick<IcsCalendar, "zones">, displayZone: string): number {
  return zoneOf(t, cal, displayZone).toInstant(t.wall);
}

/** Length of each occurrence: exact for timed events (RFC 5545 §3.8.5.3), whole days for all-day ones. */
function lengthOf(ev: IcsEvent, cal: Pick<IcsCalendar, "zones">, displayZone: string): { ms: number; days: number } {
  if (ev.start.dateOnly) {
    const days = ev.end
      ? Math.max(1, Math.round((wallAsUtc({ ...ev.end.wall, hour: 0, minute: 0, second: 0 }) - wallAsUtc(ev.start.wall)) / DAY_MS))
      : ev.durationSeconds !== null
        ? Math.max(1, Math.round(ev.durationSeconds / 86_400))
        : 1;
    return { ms: days * DAY_MS, days };
  }
  if (ev.end) return { ms: Math.max(0, instantOf(ev.end, cal, displayZone) - instantOf(ev.start, cal, displayZone)), days: 0 };
  return { ms: (ev.durationSeconds ?? 0) * 1000, days: 0 };
}

/** Key identifying an occurrence: its date for all-day events, else its start instant. */
const keyOf = (t: IcsTime, z: Zone): string => (t.dateOnly ? formatDate(t.wall) : String(z.toInstant(t.wall)));

function overlaps(s: number, e: number, w: ExpandWindow): boolean {
  return s < w.toMs && (e > w.fromMs || (e === s && s >= w.fromMs));
}

function occurrence(
  ev: IcsEvent,
  startWall: WallTime,
  zone: Zone,
  length: { ms: number; days: number },
  extra: Pick<Occurrence, "recurrenceId" | "recurring" | "overridden">,
): Occurrence {
  const allDay = ev.start.dateOnly;
  const startMs = zone.toInstant(startWall);
  const endWall = allDay ? utcAsWall(wallAsUtc(startWall) + length.days * DAY_MS) : null;
  return {
    uid: ev.uid,
    summary: ev.summary,
    location: ev.location,
    description: ev.description,
    status: ev.status,
    startMs,
    endMs: endWall ? zone.toInstant(endWall) : startMs + length.ms,
    allDay,
    startDate: allDay ? formatDate(startWall) : null,
    endDate: endWall ? formatDate(endWall) : null,
    eventZone: allDay ? "floating" : (ev.start.tzid ?? "floating"),
    ...extra,
  };
}

/** The end of the rule (inclusive) on the event's own wall clock, or null. */
function untilWallOf(ev: IcsEvent, zone: Zone): WallTime | null {
  const u = ev.rule?.until;
  if (!u) return null;
  if (u.dateOnly) return { ...u.wall, hour: 23, minute: 59, second: 59 };
  return u.tzid === "UTC" ? zone.toWall(wallAsUtc(u.wall)) : u.wall;
}

/**
 * Where to start iterating a DAILY or WEEKLY rule without COUNT whose window lies far after DTSTART: a whole number of
 * periods (INTERVAL days or weeks of wall time) later, just before the window. The rule's candidates repeat with that
 * period, so every occurrence after the new start is the same as from DTSTART; the new start itself is an occurrence
 * only if the rule produces it when iterated from one period earlier (ical.js always yields the start it is given).
 * A weekday series running for years then costs a few steps instead of thousands.
 */
function fastForward(master: IcsEvent, lengthMs: number, w: ExpandWindow): { start: WallTime; skipFirst: boolean } {
  const rule = master.rule!;
  const unchanged = { start: master.start.wall, skipFirst: false };
  if (rule.count !== null || (rule.freq !== "DAILY" && rule.freq !== "WEEKLY")) return unchanged;
  const periodDays = rule.interval * (rule.freq === "WEEKLY" ? 7 : 1);
  const target = w.fromMs - MAX_OFFSET_MS - lengthMs - 2 * DAY_MS;
  const k = Math.floor((target - wallAsUtc(master.start.wall)) / (periodDays * DAY_MS));
  if (k < 2) return unchanged;
  const start = utcAsWall(wallAsUtc(master.start.wall) + k * periodDays * DAY_MS);
  const probe = rule.iterate(utcAsWall(wallAsUtc(start) - periodDays * DAY_MS), master.start.dateOnly, null);
  probe();
  const at = wallAsUtc(start);
  let isOccurrence = false;
  for (let v = probe(); v && wallAsUtc(v) <= at; v = probe()) if (wallAsUtc(v) === at) isOccurrence = true;
  return { start, skipFirst: !isOccurrence };
}

/** Occurrences of one UID (master plus overrides) in the window; `truncated` when the step bound was hit. */
function expandOne(
  master: IcsEvent | null,
  overrides: IcsEvent[],
  cal: Pick<IcsCalendar, "zones">,
  w: ExpandWindow,
): { out: Occurrence[]; truncated: boolean } {
  const out: Occurrence[] = [];
  let truncated = false;
  const overridden = new Set<string>();
  const recurring = master !== null && (master.rule !== null || master.rdates.length > 0);
  for (const o of overrides) {
    const rz = zoneOf(o.recurrenceId!, cal, w.displayZone);
    overridden.add(keyOf(o.recurrenceId!, rz));
    const z = zoneOf(o.start, cal, w.displayZone);
    const occ = occurrence(o, o.start.wall, z, lengthOf(o, cal, w.displayZone), {
      recurrenceId: new Date(rz.toInstant(o.recurrenceId!.wall)).toISOString(),
      recurring: true,
      overridden: true,
    });
    if (overlaps(occ.startMs, occ.endMs, w)) out.push(occ);
  }
  if (!master) return { out, truncated };
  const zone = zoneOf(master.start, cal, w.displayZone);
  const length = lengthOf(master, cal, w.displayZone);
  if (!recurring) {
    const occ = occurrence(master, master.start.wall, zone, length, { recurrenceId: null, recurring: false, overridden: false });
    if (overlaps(occ.startMs, occ.endMs, w)) out.push(occ);
    return { out, truncated };
  }
  const excluded = new Set(master.exdates.map((x) => keyOf(x, zoneOf(x, cal, w.displayZone))));
  const emit = (startWall: WallTime) => {
    const t: IcsTime = { wall: startWall, dateOnly: master.start.dateOnly, tzid: master.start.tzid };
    const key = keyOf(t, zone);
    if (excluded.has(key) || overridden.has(key)) return;
    const occ = occurrence(master, startWall, zone, length, {
      recurrenceId: new Date(zone.toInstant(startWall)).toISOString(),
      recurring: true,
      overridden: false,
    });
    if (overlaps(occ.startMs, occ.endMs, w)) out.push(occ);
  };
  if (master.rule) {
    const from = fastForward(master, length.ms, w);
    const next = master.rule.iterate(from.start, master.start.dateOnly, untilWallOf(master, zone));
    if (from.skipFirst) next();
    for (let steps = 0; ; steps++) {
      if (steps >= MAX_RECURRENCE_STEPS) {
        truncated = true;
        break;
      }
      const s = next();
      if (!s) break;
      const approx = wallAsUtc(s);
      if (approx - MAX_OFFSET_MS >= w.toMs) break;
      // Far before the window: skip the zone arithmetic (the hot path for long-running series).
      if (approx + MAX_OFFSET_MS + length.ms + DAY_MS < w.fromMs) continue;
      emit(s);
    }
  } else emit(master.start.wall);
  for (const r of master.rdates) {
    const rz = zoneOf(r, cal, w.displayZone);
    emit(r.tzid === master.start.tzid || r.dateOnly ? r.wall : zone.toWall(rz.toInstant(r.wall)));
  }
  return { out, truncated };
}

/**
 * Every occurrence of the calendar's events overlapping `[fromMs, toMs)`, sorted by start. Events whose zone cannot be
 * read are refused one by one. Orphan overrides (no master in the text) are shown as single occurrences.
 */
export function expandEvents(
  cal: Pick<IcsCalendar, "events" | "zones">,
  w: ExpandWindow,
): { occurrences: Occurrence[]; refused: IcsRefusal[]; truncated: string[] } {
  const byUid = new Map<string, { master: IcsEvent | null; overrides: IcsEvent[] }>();
  for (const ev of cal.events) {
    const g = byUid.get(ev.uid) ?? { master: null, overrides: [] };
    if (ev.recurrenceId) g.overrides.push(ev);
    else g.master ??= ev;
    byUid.set(ev.uid, g);
  }
  const occurrences: Occurrence[] = [];
  const refused: IcsRefusal[] = [];
  const truncated: string[] = [];
  for (const [uid, g] of byUid) {
    try {
      const r = expandOne(g.master, g.overrides, cal, w);
      occurrences.push(...r.out);
      if (r.truncated) truncated.push(uid);
    } catch (err) {
      refused.push({ uid, line: (g.master ?? g.overrides[0])!.line, detail: (err as Error).message });
    }
  }
  occurrences.sort((a, b) => a.startMs - b.startMs || a.summary.localeCompare(b.summary));
  return { occurrences, refused, truncated };
}

/** Bounds tau's copy indexes an object under (`calendar_objects.span_*`): wide enough never to miss an occurrence. */
export const SPAN_UNBOUNDED_START = -8.64e15;
export const SPAN_UNBOUNDED_END = 8.64e15;

/**
 * The instants between which an object's occurrences can lie, padded by a day each side (floating and all-day times
 * depend on the display zone). Unbounded recurrences end at `SPAN_UNBOUNDED_END`.
 */
export function objectSpan(cal: Pick<IcsCalendar, "events" | "zones">, displayZone: string): { startMs: number; endMs: number } {
  let startMs = SPAN_UNBOUNDED_END;
  let endMs = SPAN_UNBOUNDED_START;
  for (const ev of cal.events) {
    const zone = zoneOf(ev.start, cal, displayZone);
    const s = zone.toInstant(ev.start.wall);
    const len = lengthOf(ev, cal, displayZone).ms;
    let e = s + len;
    if (ev.rule && !ev.recurrenceId) {
      const until = untilWallOf(ev, zone);
      if (until) e = Math.max(e, zone.toInstant(until) + len);
      else if (ev.rule.count !== null && ev.rule.count <= MAX_RECURRENCE_STEPS) {
        const next = ev.rule.iterate(ev.start.wall, ev.start.dateOnly, null);
        let last: WallTime | null = null;
        for (let i = 0; i < ev.rule.count; i++) {
          const n = next();
          if (!n) break;
          last = n;
        }
        if (last) e = Math.max(e, zone.toInstant(last) + len);
      } else e = SPAN_UNBOUNDED_END;
    }
    for (const r of ev.rdates) e = Math.max(e, instantOf(r, cal, displayZone) + len);
    startMs = Math.min(startMs, s);
    endMs = Math.max(endMs, e);
  }
  if (startMs > endMs) return { startMs: SPAN_UNBOUNDED_START, endMs: SPAN_UNBOUNDED_END };
  return { startMs: startMs - DAY_MS, endMs: endMs >= SPAN_UNBOUNDED_END ? SPAN_UNBOUNDED_END : endMs + DAY_MS };
}
