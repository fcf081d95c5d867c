/**
 * @module Wall-clock time in an IANA time zone ↔ instants, with the IANA database Node ships (`Intl`). Recurrences are
 * computed on wall-clock time in the event's own zone (RFC 5545 §3.3.10: "weekly at 09:00 Europe/Berlin" stays 09:00
 * across DST) and turned into instants here. Pure: no clock.
 */

/** A local date and time without a zone (month 1–12). */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

import { isValidTimeZone } from "../../policy/index.ts";
const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `Intl` knows the zone (`Europe/Berlin`, `UTC`): the same check quiet hours use. */
export const isIanaZone = isValidTimeZone;

/** The wall-clock time at instant `ms` in `timeZone`. */
export function instantToWall(ms: number, timeZone: string): WallTime {
  return utcAsWall(ms + offsetAt(ms, timeZone));
}

/** `Intl`'s answer, uncached (the expensive call: a formatToParts). */
function rawInstantToWall(ms: number, timeZone: string): WallTime {
  const parts = formatterFor(timeZone).formatToParts(new Date(ms));
  const get = (t: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const era = parts.find((p) => p.type === "era")?.value;
  const year = era === "BC" || era === "B" ? 1 - get("year") : get("year");
  return { year, month: get("month"), day: get("day"), hour: get("hour") % 24, minute: get("minute"), second: get("second") };
}

/** The wall time read as if it were UTC (a plain number to do arithmetic on). */
export function wallAsUtc(w: WallTime): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  return d.getTime();
}

/** The inverse of `wallAsUtc`. */
export function utcAsWall(ms: number): WallTime {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

function rawOffset(ms: number, timeZone: string): number {
  const s = Math.floor(ms / 1000) * 1000;
  return wallAsUtc(rawInstantToWall(s, timeZone)) - s;
}

/**
 * Offsets by zone and UTC day, for days on which the offset does not change (all but a couple a year). Listing a
 * week of a large calendar converts thousands of times; this keeps it to a few `Intl` calls per day.
 */
const dayOffsets = new Map<string, Map<number, number | null>>();
const MAX_CACHED_DAYS = 50_000;

/** Offset of `timeZone` from UTC at instant `ms`, in ms (+3 600 000 for CET). */
export function offsetAt(ms: number, timeZone: string): number {
  let zone = dayOffsets.get(timeZone);
  if (!zone) dayOffsets.set(timeZone, (zone = new Map()));
  const day = Math.floor(ms / DAY_MS);
  let known = zone.get(day);
  if (known === undefined) {
    const first = rawOffset(day * DAY_MS, timeZone);
    known = first === rawOffset(day * DAY_MS + DAY_MS - 1000, timeZone) ? first : null;
    if (zone.size >= MAX_CACHED_DAYS) zone.clear();
    zone.set(day, known);
  }
  return known ?? rawOffset(ms, timeZone);
}

/**
 * The instant of a wall-clock time in `timeZone`. A time that occurs twice (the hour after DST ends) is the first
 * one; a time that does not exist (the hour skipped when DST starts) is read with the offset before the gap, so
 * 02:30 becomes 03:30 — both as RFC 5545 §3.3.5 prescribes.
 */
export function wallToInstant(w: WallTime, timeZone: string): number {
  const t = wallAsUtc(w);
  // Real zones change offset at most once within a day either side, so the two offsets around `t` are the candidates.
  const before = offsetAt(t - DAY_MS, timeZone);
  const after = offsetAt(t + DAY_MS, timeZone);
  const valid = [...new Set([before, after])].map((o) => t - o).filter((u) => offsetAt(u, timeZone) === t - u);
  if (valid.length > 0) return Math.min(...valid);
  return t - before;
}

/** `2026-12-07T09:00:00+01:00` for an instant shown in `timeZone`. */
export function formatInstant(ms: number, timeZone: string): string {
  const w = instantToWall(ms, timeZone);
  const off = Math.round(offsetAt(ms, timeZone) / 60_000);
  const sign = off < 0 ? "-" : "+";
  const a = Math.abs(off);
  return `${formatWall(w)}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** `2026-12-07T09:00:00` (no zone). */
export function formatWall(w: WallTime): string {
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/** `2026-12-07`. */
export function formatDate(w: Pick<WallTime, "year" | "month" | "day">): string {
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

/** Midnight at the start of the local day containing `ms`, as an instant. */
export function startOfLocalDay(ms: number, timeZone: string): number {
  const w = instantToWall(ms, timeZone);
  return wallToInstant({ ...w, hour: 0, minute: 0, second: 0 }, timeZone);
}

/** The same wall-clock time `days` calendar days later (DST-safe: days are local days, not 24 h). */
export function addLocalDays(w: WallTime, days: number): WallTime {
  return utcAsWall(wallAsUtc(w) + days * DAY_MS);
}

/** ISO weekday of a wall date: 1 = Monday … 7 = Sunday. */
export function isoWeekday(w: Pick<WallTime, "year" | "month" | "day">): number {
  const d = new Date(wallAsUtc({ ...w, hour: 0, minute: 0, second: 0 })).getUTCDay();
  return d === 0 ? 7 : d;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}
