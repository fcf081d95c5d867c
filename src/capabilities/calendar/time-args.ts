/**
 * @module Time arguments as operators type them: listing windows (`today`, `tomorrow`, `week`, `next-week`, ISO dates
 * and times) and event times (`2026-12-07` all day, `2026-12-07T09:00` in the event's zone, or with an offset),
 * durations (`30m`, `1h30m`, `2d`, `PT1H`). Pure: `now` is an argument. Dates are read in the display time zone.
 */
import type { IcsTime } from "./ics-text.ts";
import { addLocalDays, instantToWall, isoWeekday, utcAsWall, wallAsUtc, wallToInstant, type WallTime } from "./zoned-time.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; detail: string };

/** A listing window, `[fromMs, toMs)`, and how it was named. */
export interface TimeWindow {
  fromMs: number;
  toMs: number;
  label: string;
}

/** The longest window a listing may ask for. */
export const MAX_WINDOW_DAYS = 366;
const DAY_MS = 86_400_000;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;
const ZONED = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function realWall(y: string, mo: string, d: string, h = "0", mi = "0", s = "0"): WallTime | null {
  const w = { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi), second: Number(s) };
  const back = utcAsWall(wallAsUtc(w));
  const same = back.year === w.year && back.month === w.month && back.day === w.day && back.hour === w.hour && back.minute === w.minute;
  return same && w.second < 60 ? w : null;
}

const midnight = (w: WallTime): WallTime => ({ ...w, hour: 0, minute: 0, second: 0 });

/** A named range: its start and its end (exclusive). */
function namedRange(name: string, now: number, tz: string): { from: number; to: number } | null {
  const today = midnight(instantToWall(now, tz));
  const day = (n: number) => wallToInstant(addLocalDays(today, n), tz);
  const monday = addLocalDays(today, 1 - isoWeekday(today));
  const week = (n: number) => wallToInstant(addLocalDays(monday, 7 * n), tz);
  switch (name.toLowerCase()) {
    case "now":
      return { from: now, to: now + 1 };
    case "today":
      return { from: day(0), to: day(1) };
    case "tomorrow":
      return { from: day(1), to: day(2) };
    case "yesterday":
      return { from: day(-1), to: day(0) };
    case "week":
    case "this-week":
      return { from: week(0), to: week(1) };
    case "next-week":
      return { from: week(1), to: week(2) };
    default:
      return null;
  }
}

/** One end of a window: its instant, and where a bare `from` ends. */
function point(text: string, now: number, tz: string, side: "from" | "to"): Parsed<{ at: number; end: number }> {
  const t = text.trim();
  const named = namedRange(t, now, tz);
  if (named) return { ok: true, value: { at: side === "from" ? named.from : named.to, end: named.to } };
  const d = t.match(DATE);
  if (d) {
    const w = realWall(d[1]!, d[2]!, d[3]!);
    if (!w) return { ok: false, detail: `${side}: ${t} is not a real date` };
    const start = wallToInstant(w, tz);
    const next = wallToInstant(addLocalDays(w, 1), tz);
    // A date as `to` includes that whole day ("from 7th to 13th").
    return { ok: true, value: { at: side === "from" ? start : next, end: next } };
  }
  const l = t.match(LOCAL);
  if (l) {
    const w = realWall(l[1]!, l[2]!, l[3]!, l[4], l[5], l[6]);
    if (!w) return { ok: false, detail: `${side}: ${t} is not a real date and time` };
    const at = wallToInstant(w, tz);
    return { ok: true, value: { at, end: at + DAY_MS } };
  }
  if (ZONED.test(t) && !Number.isNaN(Date.parse(t))) {
    const at = Date.parse(t);
    return { ok: true, value: { at, end: at + DAY_MS } };
  }
  return { ok: false, detail: `${side}: "${t}" is not today, tomorrow, yesterday, week, next-week, now, a date (2026-12-07) or a time` };
}

/** `from`/`to` → a window in `tz`; `to` defaults to the end of what `from` names (a day, a week). */
export function parseWindow(from: string | undefined, to: string | undefined, now: number, tz: string): Parsed<TimeWindow> {
  const f = point(from ?? "today", now, tz, "from");
  if (!f.ok) return f;
  let toMs = f.value.end;
  if (to !== undefined) {
    const t = point(to, now, tz, "to");
    if (!t.ok) return t;
    toMs = t.value.at;
  }
  if (toMs <= f.value.at) return { ok: false, detail: "to must be after from" };
  if (toMs - f.value.at > MAX_WINDOW_DAYS * DAY_MS) return { ok: false, detail: `the window may span at most ${MAX_WINDOW_DAYS} days` };
  return { ok: true, value: { fromMs: f.value.at, toMs, label: to === undefined ? (from ?? "today") : `${from ?? "today"} – ${to}` } };
}

/** An event time: a date (all day), a local time in the event's zone `tz`, or an instant with an offset. */
export function parseEventTime(text: string, tz: string, what: string): Parsed<IcsTime> {
  const t = text.trim();
  const d = t.match(DATE);
  if (d) {
    const w = realWall(d[1]!, d[2]!, d[3]!);
    return w ? { ok: true, value: { wall: w, dateOnly: true, tzid: null } } : { ok: false, detail: `${what}: ${t} is not a real date` };
  }
  const l = t.match(LOCAL);
  if (l) {
    const w = realWall(l[1]!, l[2]!, l[3]!, l[4], l[5], l[6]);
    return w
      ? { ok: true, value: { wall: w, dateOnly: false, tzid: tz } }
      : { ok: false, detail: `${what}: ${t} is not a real date and time` };
  }
  if (ZONED.test(t) && !Number.isNaN(Date.parse(t))) {
    const w = instantToWall(Date.parse(t), tz);
    return { ok: true, value: { wall: w, dateOnly: false, tzid: tz } };
  }
  return { ok: false, detail: `${what}: "${t}" is not a date (2026-12-07) or a time (2026-12-07T09:00, optionally with an offset)` };
}

/** `30m`, `1h30m`, `2d`, `90` (minutes) or ISO 8601 `PT1H30M` / `P1D` → seconds. */
export function parseDuration(text: string): Parsed<number> {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) return Number(t) > 0 ? { ok: true, value: Number(t) * 60 } : { ok: false, detail: "duration must be positive" };
  const short = t.match(/^(?:(\d+)D)?(?:(\d+)H)?(?:(\d+)M)?$/);
  const iso = t.match(/^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/);
  let s = 0;
  if (short && t !== "") s = Number(short[1] ?? 0) * 86_400 + Number(short[2] ?? 0) * 3600 + Number(short[3] ?? 0) * 60;
  else if (iso && t !== "P" && t !== "PT")
    s =
      Number(iso[1] ?? 0) * 604_800 +
      Number(iso[2] ?? 0) * 86_400 +
      Number(iso[3] ?? 0) * 3600 +
      Number(iso[4] ?? 0) * 60 +
      Number(iso[5] ?? 0);
  else return { ok: false, detail: `duration: "${text}" is not like 30m, 1h30m, 2d or PT1H` };
  return s > 0 ? { ok: true, value: s } : { ok: false, detail: "duration must be positive" };
}

/** The end of an event that starts at `start` and lasts `seconds` (whole days for all-day events). */
export function endAfter(start: IcsTime, seconds: number, tz: string): IcsTime {
  if (start.dateOnly) return { ...start, wall: addLocalDays(start.wall, Math.max(1, Math.round(seconds / 86_400))) };
  const ms = wallToInstant(start.wall, tz) + seconds * 1000;
  return { wall: instantToWall(ms, tz), dateOnly: false, tzid: tz };
}

/** The instant an event time stands for (all-day: midnight in `tz`). */
export function instantOfTime(t: IcsTime, tz: string): number {
  return t.tzid === "UTC" ? wallAsUtc(t.wall) : wallToInstant(t.wall, t.tzid ?? tz);
}
