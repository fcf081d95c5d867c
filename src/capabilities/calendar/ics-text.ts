/**
 * @module iCalendar text before any library sees it (RFC 5545 §3.1): content lines unfolded (CRLF, LF or CR; a
 * continuation starts with a space or a tab), the components directly inside each VCALENDAR split out with their
 * line numbers so each can be read — or refused — on its own, DATE/DATE-TIME values checked, RRULE parts checked
 * (what ical.js lets through: INTERVAL=0, unknown parts, COUNT with UNTIL), and TZIDs mapped to IANA names. Pure.
 */
import { CalendarError } from "./calendar-error.ts";
import { isIanaZone, utcAsWall, wallAsUtc, type WallTime } from "./zoned-time.ts";

/** A DATE or DATE-TIME value: wall-clock fields and how to read them (UTC, a TZID, or floating). */
export interface IcsTime {
  wall: WallTime;
  dateOnly: boolean;
  /** `UTC` for a trailing Z, the TZID parameter, or null for floating time (read in the display time zone). */
  tzid: string | null;
}

/** One component inside a VCALENDAR: its name, first line, and unfolded lines. */
export interface Block {
  name: string;
  line: number;
  lines: string[];
}

/** Unfold content lines (CRLF, LF or CR; continuation lines start with a space or a tab), keeping line numbers. */
export function unfold(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const physical = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  physical.forEach((l, i) => {
    if ((l.startsWith(" ") || l.startsWith("\t")) && out.length > 0) out[out.length - 1]!.text += l.slice(1);
    else if (l.trim() !== "") out.push({ text: l, line: i + 1 });
  });
  return out;
}

export const icsInvalid = (detail: string, line?: number) =>
  new CalendarError("calendar_ics_invalid", line ? `line ${line}: ${detail}` : detail, { details: { line: line ?? null } });

/** The components directly inside each VCALENDAR (VEVENT, VTIMEZONE, VTODO, …) with their lines. */
export function splitCalendar(text: string): Block[] {
  const lines = unfold(text);
  if (lines.length === 0) throw icsInvalid("empty iCalendar text");
  const blocks: Block[] = [];
  const stack: string[] = [];
  let current: Block | null = null;
  let calendars = 0;
  for (const l of lines) {
    const m = l.text.match(/^(BEGIN|END):([A-Za-z0-9-]+)\s*$/i);
    const kind = m?.[1]!.toUpperCase();
    const name = m?.[2]!.toUpperCase();
    if (kind === "BEGIN") {
      if (stack.length === 0 && name !== "VCALENDAR") throw icsInvalid(`expected BEGIN:VCALENDAR, found ${l.text}`, l.line);
      if (stack.length === 0) calendars++;
      stack.push(name!);
      if (stack.length === 2) current = { name: name!, line: l.line, lines: [] };
    } else if (kind === "END") {
      if (stack.at(-1) !== name) throw icsInvalid(`END:${name} does not close BEGIN:${stack.at(-1) ?? "(nothing)"}`, l.line);
      current?.lines.push(l.text);
      if (stack.length === 2 && current) {
        blocks.push(current);
        current = null;
      }
      stack.pop();
      continue;
    } else if (stack.length === 0) {
      throw icsInvalid(`content outside BEGIN:VCALENDAR: ${l.text.slice(0, 40)}`, l.line);
    } else if (!l.text.includes(":")) {
      // A line ical.js cannot read; inside a component it refuses that component only.
      if (!current) throw icsInvalid(`not a content line: ${l.text.slice(0, 40)}`, l.line);
    }
    current?.lines.push(l.text);
  }
  if (stack.length > 0) throw icsInvalid(`BEGIN:${stack.at(-1)} is never closed`);
  if (calendars === 0) throw icsInvalid("no VCALENDAR");
  return blocks;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(Z)?)?$/;

export function toIcsTime(value: unknown, tzid: unknown, what: string): IcsTime {
  const m = typeof value === "string" ? value.match(DATE_TIME) : null;
  if (!m) throw new Error(`${what}: not a DATE or DATE-TIME value`);
  const wall: WallTime = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
  };
  const back = utcAsWall(wallAsUtc(wall));
  const ok = back.year === wall.year && back.month === wall.month && back.day === wall.day && wall.hour < 24 && wall.minute < 60;
  if (!ok || wall.second > 60) throw new Error(`${what}: ${value} is not a real date and time`);
  const dateOnly = m[4] === undefined;
  return { wall, dateOnly, tzid: m[7] ? "UTC" : !dateOnly && typeof tzid === "string" && tzid !== "" ? tzid : null };
}

const RRULE_KEYS = new Set([
  "FREQ",
  "UNTIL",
  "COUNT",
  "INTERVAL",
  "BYSECOND",
  "BYMINUTE",
  "BYHOUR",
  "BYDAY",
  "BYMONTHDAY",
  "BYYEARDAY",
  "BYWEEKNO",
  "BYMONTH",
  "BYSETPOS",
  "WKST",
  "RSCALE",
  "SKIP",
]);

/** The checks ical.js leaves out (it drops INTERVAL=0 and unknown parts silently). */
export function checkRruleText(text: string): string | null {
  const parts = text.split(";").filter((p) => p !== "");
  const seen = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf("=");
    if (eq <= 0) return `"${p}" is not NAME=VALUE`;
    const k = p.slice(0, eq).toUpperCase();
    if (!RRULE_KEYS.has(k) && !k.startsWith("X-")) return `unknown part ${k}`;
    if (seen.has(k)) return `${k} appears twice`;
    seen.set(k, p.slice(eq + 1));
  }
  if (!seen.has("FREQ")) return "FREQ is required";
  for (const k of ["INTERVAL", "COUNT"]) {
    const v = seen.get(k);
    if (v !== undefined && !/^[1-9]\d*$/.test(v)) return `${k} must be a positive integer (got ${v})`;
  }
  if (seen.has("COUNT") && seen.has("UNTIL")) return "COUNT and UNTIL may not both be set";
  return null;
}

/** The IANA name for a TZID: itself, or the tail of a prefixed one (`/mozilla.org/20050126_1/Europe/Berlin`). */
export function ianaNameOf(tzid: string): string | null {
  if (isIanaZone(tzid)) return tzid;
  const segs = tzid.split("/").filter((s) => s !== "");
  for (let n = Math.min(3, segs.length - 1); n >= 1; n--) {
    const tail = segs.slice(-n).join("/");
    if (tail.includes("/") && isIanaZone(tail)) return tail;
  }
  return null;
}
