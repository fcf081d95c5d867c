/**
 * @module The ical.js adapter (the only file that imports it): iCalendar text → a neutral event model, recurrence
 * rule iteration on wall-clock time, VTIMEZONE offsets, events written and patched, and vCards read. Liberal in what
 * it accepts (see `ics-text.ts`: folding, a BOM, several VCALENDARs); each VEVENT is read on its own, so one bad
 * event (an invalid RRULE, an unknown TZID) is refused with its line while the others are read.
 * @see https://www.rfc-editor.org/rfc/rfc5545 (iCalendar), https://www.rfc-editor.org/rfc/rfc6350 (vCard)
 */
import ICAL from "ical.js";
import { checkRruleText, ianaNameOf, icsInvalid, splitCalendar, toIcsTime, unfold, type Block, type IcsTime } from "./ics-text.ts";
import { utcAsWall, type WallTime } from "./zoned-time.ts";

export type { IcsTime } from "./ics-text.ts";
export { ianaNameOf } from "./ics-text.ts";

/** A recurrence rule, iterated on wall-clock time from the event's DTSTART (UNTIL is applied by the caller). */
export interface RecurrenceRule {
  text: string;
  freq: "SECONDLY" | "MINUTELY" | "HOURLY" | "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY";
  interval: number;
  count: number | null;
  until: IcsTime | null;
  /** Occurrence starts in order, DTSTART first; `untilWall` bounds them (inclusive), in the same wall clock. */
  iterate(start: WallTime, dateOnly: boolean, untilWall: WallTime | null): () => WallTime | null;
}

/** One VEVENT, read. */
export interface IcsEvent {
  uid: string;
  recurrenceId: IcsTime | null;
  start: IcsTime;
  end: IcsTime | null;
  durationSeconds: number | null;
  summary: string;
  location: string | null;
  description: string | null;
  status: string | null;
  sequence: number;
  rule: RecurrenceRule | null;
  rdates: IcsTime[];
  exdates: IcsTime[];
  /** `X-` properties by upper-case name (tau's sync markers live here). */
  x: Record<string, string>;
  /** First line of the VEVENT in the text (1-based). */
  line: number;
  /** The VEVENT's unfolded lines, for re-emitting it elsewhere (sync). */
  raw: string;
}

/** A VEVENT that could not be read, and why. */
export interface IcsRefusal {
  uid: string | null;
  line: number;
  detail: string;
}

/** Wall time in a VTIMEZONE → offset from UTC in ms (ical.js evaluates the VTIMEZONE's own rules). */
export type ZoneOffset = (w: WallTime) => number;

export interface IcsCalendar {
  events: IcsEvent[];
  refused: IcsRefusal[];
  /** VTIMEZONE definitions by TZID. */
  zones: Map<string, ZoneOffset>;
  /** Raw VTIMEZONE blocks by TZID (re-emitted with the events that use them). */
  zoneBlocks: Map<string, string>;
}

// ------------------------------------------------------------------------------------------------ values

/** All values of a property (EXDATE and RDATE may repeat and hold lists). */
function timesOf(comp: ICAL.Component, name: string): IcsTime[] {
  return comp.getAllProperties(name).flatMap((p) => {
    const j = p.toJSON() as [string, Record<string, unknown>, string, ...unknown[]];
    return j.slice(3).map((v) => toIcsTime(typeof v === "string" ? v : (v as string[])[0], j[1].tzid, name.toUpperCase()));
  });
}

function timeOf(comp: ICAL.Component, name: string): IcsTime | null {
  const p = comp.getFirstProperty(name);
  if (!p) return null;
  const j = p.toJSON() as [string, Record<string, unknown>, string, unknown];
  return toIcsTime(j[3], j[1].tzid, name.toUpperCase());
}

const textOf = (comp: ICAL.Component, name: string): string | null => {
  const v = comp.getFirstPropertyValue(name);
  return v === null || v === undefined ? null : String(v);
};

function ruleOf(comp: ICAL.Component, rawLines: string[]): RecurrenceRule | null {
  const rules = comp.getAllProperties("rrule");
  if (rules.length === 0) return null;
  if (rules.length > 1) throw new Error("RRULE: more than one rule (RFC 5545 allows one)");
  const rawLine = rawLines.find((l) => /^RRULE[;:]/i.test(l)) ?? "";
  const text = rawLine.slice(rawLine.indexOf(":") + 1);
  const problem = checkRruleText(text);
  if (problem) throw new Error(`RRULE: ${problem}`);
  const recur = rules[0]!.getFirstValue() as ICAL.Recur;
  const untilText = text.match(/(?:^|;)UNTIL=([^;]+)/i)?.[1] ?? null;
  let until: IcsTime | null = null;
  if (untilText) {
    const m = untilText.match(/^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/);
    if (!m) throw new Error(`RRULE: UNTIL=${untilText} is not a date or date-time`);
    until = toIcsTime(`${m[1]}-${m[2]}-${m[3]}${m[4] ? `T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}` : ""}`, null, "RRULE UNTIL");
  }
  return {
    text,
    freq: recur.freq as RecurrenceRule["freq"],
    interval: recur.interval || 1,
    count: recur.count ?? null,
    until,
    iterate(start, dateOnly, untilWall) {
      const r = recur.clone();
      r.until = untilWall ? ICAL.Time.fromData({ ...untilWall, isDate: false }) : null;
      // Floating ICAL.Time: ical.js iterates pure wall-clock values; zones are applied by the caller.
      const it = r.iterator(ICAL.Time.fromData({ ...start, isDate: dateOnly }));
      return () => {
        const n = it.next();
        return n ? { year: n.year, month: n.month, day: n.day, hour: n.hour, minute: n.minute, second: n.second } : null;
      };
    },
  };
}

// ------------------------------------------------------------------------------------------------ reading

function readEvent(block: Block, knownZones: ReadonlySet<string>): IcsEvent {
  const comp = new ICAL.Component(ICAL.parse(block.lines.join("\r\n")) as unknown[]);
  const uid = textOf(comp, "uid");
  if (!uid) throw new Error("UID is missing");
  const start = timeOf(comp, "dtstart");
  if (!start) throw new Error("DTSTART is missing");
  const end = timeOf(comp, "dtend");
  const dur = comp.getFirstPropertyValue("duration") as ICAL.Duration | null;
  const durationSeconds = dur ? dur.toSeconds() : null;
  if (durationSeconds !== null && durationSeconds < 0) throw new Error("DURATION is negative");
  const recurrenceId = timeOf(comp, "recurrence-id");
  const rdates = timesOf(comp, "rdate");
  const exdates = timesOf(comp, "exdate");
  for (const t of [start, end, recurrenceId, ...rdates, ...exdates]) {
    if (t?.tzid && t.tzid !== "UTC" && !ianaNameOf(t.tzid) && !knownZones.has(t.tzid))
      throw new Error(`TZID ${t.tzid} has no VTIMEZONE and is not an IANA time zone`);
  }
  const x: Record<string, string> = {};
  for (const p of comp.getAllProperties()) {
    if (p.name.toLowerCase().startsWith("x-")) x[p.name.toUpperCase()] = String(p.getFirstValue() ?? "");
  }
  return {
    uid,
    recurrenceId,
    start,
    end,
    durationSeconds,
    summary: textOf(comp, "summary") ?? "",
    location: textOf(comp, "location"),
    description: textOf(comp, "description"),
    status: textOf(comp, "status"),
    sequence: Number(comp.getFirstPropertyValue("sequence") ?? 0) || 0,
    rule: ruleOf(comp, block.lines),
    rdates,
    exdates,
    x,
    line: block.line,
    raw: block.lines.join("\r\n"),
  };
}

function readZone(block: Block): { tzid: string; offset: ZoneOffset } {
  const comp = new ICAL.Component(ICAL.parse(block.lines.join("\r\n")) as unknown[]);
  const tzid = textOf(comp, "tzid");
  if (!tzid) throw new Error("VTIMEZONE without TZID");
  const tz = new ICAL.Timezone(comp);
  return { tzid, offset: (w) => tz.utcOffset(ICAL.Time.fromData({ ...w, isDate: false })) * 1000 };
}

/**
 * Read iCalendar text. Throws `calendar_ics_invalid` (with the line) when the text as a whole is not iCalendar;
 * a VEVENT or VTIMEZONE that cannot be read is listed in `refused` instead.
 */
export function parseIcs(text: string): IcsCalendar {
  const blocks = splitCalendar(text);
  const zones = new Map<string, ZoneOffset>();
  const zoneBlocks = new Map<string, string>();
  const refused: IcsRefusal[] = [];
  for (const b of blocks.filter((x) => x.name === "VTIMEZONE")) {
    try {
      const z = readZone(b);
      zones.set(z.tzid, z.offset);
      zoneBlocks.set(z.tzid, b.lines.join("\r\n"));
    } catch (err) {
      refused.push({ uid: null, line: b.line, detail: `VTIMEZONE: ${(err as Error).message}` });
    }
  }
  const known = new Set(zones.keys());
  const events: IcsEvent[] = [];
  for (const b of blocks.filter((x) => x.name === "VEVENT")) {
    try {
      events.push(readEvent(b, known));
    } catch (err) {
      const uid = b.lines.find((l) => /^UID[;:]/i.test(l));
      refused.push({ uid: uid ? uid.slice(uid.indexOf(":") + 1) : null, line: b.line, detail: (err as Error).message });
    }
  }
  return { events, refused, zones, zoneBlocks };
}

// ------------------------------------------------------------------------------------------------ writing

/** The fields tau writes on an event it creates or updates. */
export interface EventFields {
  uid: string;
  summary: string;
  start: IcsTime;
  end: IcsTime;
  location: string | null;
  description: string | null;
  rrule: string | null;
}

const PRODID = "-//tau//calendar//EN";

function timeProperty(name: string, t: IcsTime): ICAL.Property {
  const p = new ICAL.Property(name);
  if (t.tzid && t.tzid !== "UTC" && !t.dateOnly) p.setParameter("tzid", t.tzid);
  p.setValue(ICAL.Time.fromData({ ...t.wall, isDate: t.dateOnly }, t.tzid === "UTC" ? ICAL.Timezone.utcTimezone : undefined));
  return p;
}

function stampProperty(name: string, nowMs: number): ICAL.Property {
  return timeProperty(name, { wall: utcAsWall(nowMs), dateOnly: false, tzid: "UTC" });
}

function setTextOrRemove(comp: ICAL.Component, name: string, value: string | null | undefined): void {
  if (value === undefined) return;
  comp.removeAllProperties(name);
  if (value !== null && value !== "") comp.addPropertyWithValue(name, value);
}

function setRrule(comp: ICAL.Component, rrule: string | null): void {
  comp.removeAllProperties("rrule");
  if (rrule) comp.addProperty(new ICAL.Property(ICAL.parse.property(`RRULE:${rrule}`)));
}

/** Check an RRULE value (`FREQ=WEEKLY;BYDAY=MO`) the way the reader would; the problem, or null. */
export function rruleProblem(rrule: string): string | null {
  const own = checkRruleText(rrule);
  if (own) return own;
  try {
    ICAL.Recur.fromString(rrule);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A new VCALENDAR holding one VEVENT. */
export function serializeNewEvent(f: EventFields, nowMs: number): string {
  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("prodid", PRODID);
  cal.addPropertyWithValue("version", "2.0");
  const ev = new ICAL.Component("vevent");
  ev.addPropertyWithValue("uid", f.uid);
  ev.addProperty(stampProperty("dtstamp", nowMs));
  ev.addProperty(stampProperty("created", nowMs));
  ev.addProperty(timeProperty("dtstart", f.start));
  ev.addProperty(timeProperty("dtend", f.end));
  ev.addPropertyWithValue("summary", f.summary);
  setTextOrRemove(ev, "location", f.location);
  setTextOrRemove(ev, "description", f.description);
  setRrule(ev, f.rrule);
  ev.addPropertyWithValue("sequence", 0);
  cal.addSubcomponent(ev);
  return cal.toString() + "\r\n";
}

/** What an update changes; `undefined` keeps a field, null removes an optional one. */
export interface EventPatch {
  summary?: string;
  start?: IcsTime;
  end?: IcsTime;
  location?: string | null;
  description?: string | null;
  rrule?: string | null;
}

/**
 * Apply a patch to the master VEVENT (no RECURRENCE-ID) of a stored object, bumping SEQUENCE and stamping
 * DTSTAMP/LAST-MODIFIED; overrides and every other property are kept as they are.
 */
export function patchEvent(text: string, uid: string, patch: EventPatch, nowMs: number): string {
  let cal: ICAL.Component;
  try {
    cal = new ICAL.Component(ICAL.parse(text) as unknown[]);
  } catch (err) {
    throw icsInvalid(`the stored event cannot be read: ${(err as Error).message}`);
  }
  const master = cal.getAllSubcomponents("vevent").find((v) => textOf(v, "uid") === uid && !v.hasProperty("recurrence-id"));
  if (!master) throw icsInvalid(`the stored object has no VEVENT with UID ${uid}`);
  if (patch.summary !== undefined) setTextOrRemove(master, "summary", patch.summary);
  setTextOrRemove(master, "location", patch.location);
  setTextOrRemove(master, "description", patch.description);
  if (patch.rrule !== undefined) setRrule(master, patch.rrule);
  if (patch.start) {
    master.removeAllProperties("dtstart");
    master.addProperty(timeProperty("dtstart", patch.start));
  }
  if (patch.end) {
    master.removeAllProperties("dtend");
    master.removeAllProperties("duration");
    master.addProperty(timeProperty("dtend", patch.end));
  }
  const seq = Number(master.getFirstPropertyValue("sequence") ?? 0) || 0;
  master.updatePropertyWithValue("sequence", seq + 1);
  master.removeAllProperties("dtstamp");
  master.addProperty(stampProperty("dtstamp", nowMs));
  master.removeAllProperties("last-modified");
  master.addProperty(stampProperty("last-modified", nowMs));
  return cal.toString() + "\r\n";
}

/**
 * A VCALENDAR for a sync: the given VEVENTs (one UID: master and overrides) with tau's markers as `X-` properties,
 * and the VTIMEZONEs they need.
 */
export function serializeSyncedObject(veventRaws: readonly string[], zoneRaws: readonly string[], markers: Record<string, string>): string {
  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("prodid", PRODID);
  cal.addPropertyWithValue("version", "2.0");
  for (const z of zoneRaws) cal.addSubcomponent(new ICAL.Component(ICAL.parse(z) as unknown[]));
  for (const raw of veventRaws) {
    const ev = new ICAL.Component(ICAL.parse(raw) as unknown[]);
    for (const [k, v] of Object.entries(markers)) {
      ev.removeAllProperties(k.toLowerCase());
      ev.addPropertyWithValue(k.toLowerCase(), v);
    }
    cal.addSubcomponent(ev);
  }
  return cal.toString() + "\r\n";
}

// ------------------------------------------------------------------------------------------------ vCard

/** One contact, read from a vCard. */
export interface VCardContact {
  uid: string | null;
  name: string;
  emails: string[];
  phones: string[];
  org: string | null;
}

/** Read every VCARD in `text`; unreadable cards are skipped and counted. */
export function parseVCards(text: string): { contacts: VCardContact[]; unreadable: number } {
  const contacts: VCardContact[] = [];
  let unreadable = 0;
  const cards = unfold(text)
    .map((l) => l.text)
    .join("\r\n")
    .split(/(?=^BEGIN:VCARD\s*$)/im)
    .filter((c) => /^BEGIN:VCARD/i.test(c));
  for (const card of cards) {
    try {
      const comp = new ICAL.Component(ICAL.parse(card.trim()) as unknown[]);
      const n = comp.getFirstPropertyValue("n");
      const fromN = Array.isArray(n)
        ? [n[1], n[0]]
            .flat()
            .filter((s) => typeof s === "string" && s !== "")
            .join(" ")
        : "";
      const org = comp.getFirstPropertyValue("org");
      contacts.push({
        uid: textOf(comp, "uid"),
        name: textOf(comp, "fn") ?? fromN,
        emails: comp.getAllProperties("email").map((p) => String(p.getFirstValue()).replace(/^mailto:/i, "")),
        phones: comp.getAllProperties("tel").map((p) => String(p.getFirstValue()).replace(/^tel:/i, "")),
        org: Array.isArray(org) ? org.filter((s) => typeof s === "string" && s !== "").join(", ") || null : org ? String(org) : null,
      });
    } catch {
      unreadable++;
    }
  }
  return { contacts, unreadable };
}
