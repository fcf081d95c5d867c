/**
 * @module Occurrences for people and for `--json`: one line per occurrence in the display time zone
 * (`Mon 07 Dec 09:00–10:00  Weekly ops sync`), and the same as data with ISO times carrying their offset.
 */
import type { Occurrence } from "./expand-occurrences.ts";
import { formatInstant, instantToWall, isoWeekday, type WallTime } from "./zoned-time.ts";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const p2 = (n: number) => String(n).padStart(2, "0");

/** `Mon 07 Dec`. */
export function dayLabel(w: Pick<WallTime, "year" | "month" | "day">): string {
  return `${DAYS[isoWeekday(w) - 1]} ${p2(w.day)} ${MONTHS[w.month - 1]}`;
}

const hm = (w: WallTime) => `${p2(w.hour)}:${p2(w.minute)}`;

/** One line: the day, the times in `tz` (or "all day"), the summary, and its status when not confirmed. */
export function occurrenceLine(o: Occurrence, tz: string): string {
  const status = o.status && o.status.toUpperCase() !== "CONFIRMED" ? ` (${o.status.toLowerCase()})` : "";
  const where = o.location ? ` @ ${o.location}` : "";
  if (o.allDay) {
    const s = instantToWall(o.startMs, tz);
    const last = instantToWall(o.endMs - 1, tz);
    const span = s.year === last.year && s.month === last.month && s.day === last.day ? dayLabel(s) : `${dayLabel(s)} – ${dayLabel(last)}`;
    return `${span}  all day  ${o.summary || "(no title)"}${where}${status}`;
  }
  const s = instantToWall(o.startMs, tz);
  const e = instantToWall(o.endMs, tz);
  const sameDay = s.year === e.year && s.month === e.month && s.day === e.day;
  const end = sameDay ? hm(e) : `${dayLabel(e)} ${hm(e)}`;
  return `${dayLabel(s)} ${hm(s)}–${end}  ${o.summary || "(no title)"}${where}${status}`;
}

/** Data for `--json`: ISO times with the display zone's offset, plus what identifies the occurrence. */
export function occurrenceData(o: Occurrence & { href: string; etag: string | null }, tz: string) {
  return {
    uid: o.uid,
    summary: o.summary,
    start: o.allDay ? o.startDate : formatInstant(o.startMs, tz),
    end: o.allDay ? o.endDate : formatInstant(o.endMs, tz),
    start_utc: new Date(o.startMs).toISOString(),
    end_utc: new Date(o.endMs).toISOString(),
    all_day: o.allDay,
    event_time_zone: o.eventZone,
    location: o.location,
    status: o.status,
    recurring: o.recurring,
    recurrence_id: o.recurrenceId,
    overridden: o.overridden,
    href: o.href,
    etag: o.etag,
  };
}
