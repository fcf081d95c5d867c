/**
 * @module Quiet hours in the recipient's own time zone (IANA), on local wall-clock time, so DST shifts and
 * windows that cross midnight behave as a person would expect. Pure: the instant is an argument.
 */
import type { Decision } from "../contracts/decision.ts";

/** A daily window in local wall-clock time, `HH:MM` 24 h; `start` after `end` crosses midnight; equal = no window. */
interface QuietHoursRule {
  start: string;
  end: string;
}

/** `HH:MM`, 00:00–23:59. */
export const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** UTC's names, which `Intl.supportedValuesOf` does not list (every one is a valid IANA zone). */
const UTC_NAMES = ["UTC", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"];

/** The canonical zone names `Intl` lists and UTC's, lower-cased (read once; `supportedValuesOf` needs Node 18+). */
let listedZones: Set<string> | null = null;

/** True for a time zone `Intl` knows (IANA names such as `America/New_York`, or `UTC`). */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "") return false;
  // A listed name is valid without building a formatter: the first DateTimeFormat starts ICU's time-zone data (~12 ms,
  // most of the communications contract check in `tau health`'s start-up). Anything else (aliases such as
  // `US/Eastern`, `UTC`, `Etc/GMT+5`, typos) is asked of a formatter, as before: the same answers.
  listedZones ??= new Set([...Intl.supportedValuesOf("timeZone"), ...UTC_NAMES].map((z) => z.toLowerCase()));
  if (listedZones.has(timeZone.toLowerCase())) return true;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    // RangeError: not a time zone this runtime knows.
    return false;
  }
}

/** Local wall-clock date and time at `atMs` in `timeZone` (throws RangeError for an unknown zone). */
export function localClock(timeZone: string, atMs: number): { date: string; time: string; minuteOfDay: number } {
  const parts = Object.fromEntries(
    formatterFor(timeZone)
      .formatToParts(new Date(atMs))
      .map((p) => [p.type, p.value]),
  );
  const hour = Number(parts.hour);
  const minute = Number(parts.minute);
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}`, minuteOfDay: hour * 60 + minute };
}

function minutes(hhmm: string): number {
  const m = hhmm.match(CLOCK_TIME);
  if (!m) throw new RangeError(`not a HH:MM time: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** True when local minute-of-day `m` falls inside the window (start inclusive, end exclusive). */
export function inQuietWindow(rule: QuietHoursRule, m: number): boolean {
  const s = minutes(rule.start);
  const e = minutes(rule.end);
  if (s === e) return false;
  return s < e ? m >= s && m < e : m >= s || m < e;
}

/**
 * Stage `quiet_hours`. `rule` null means quiet hours do not apply to this channel / message type
 * (`quiet_hours_not_applicable`). An unknown zone is refused (`recipient_invalid_timezone`): guessing UTC could
 * wake someone up. Otherwise `quiet_hours_active` (deny) or `quiet_hours_clear` (allow), with the local time.
 */
export function decideQuietHours(input: { rule: QuietHoursRule | null; timeZone: string; now: number }): Decision {
  const stage = "quiet_hours";
  if (input.rule === null) return { stage, outcome: "allow", reason: "quiet_hours_not_applicable" };
  if (!isValidTimeZone(input.timeZone))
    return { stage, outcome: "deny", reason: "recipient_invalid_timezone", detail: { timezone: input.timeZone } };
  const local = localClock(input.timeZone, input.now);
  const active = inQuietWindow(input.rule, local.minuteOfDay);
  return {
    stage,
    outcome: active ? "deny" : "allow",
    reason: active ? "quiet_hours_active" : "quiet_hours_clear",
    detail: { timezone: input.timeZone, local_date: local.date, local_time: local.time, start: input.rule.start, end: input.rule.end },
  };
}
