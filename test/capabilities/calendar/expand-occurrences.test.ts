/**
 * @module Recurrence expansion and iCalendar reading, pure: weekly events across DST in their own zone, EXDATE,
 * RECURRENCE-ID overrides (also written in UTC, also moved into the window), VTIMEZONE-only zones, a missing
 * VTIMEZONE, invalid RRULEs refused one by one, line folding, all-day and floating times, COUNT/UNTIL, and the spans
 * tau's copy indexes objects under. Expected instants are written out, not computed.
 */
import { describe, expect, it } from "vitest";
import { CalendarError } from "../../../src/capabilities/calendar/calendar-error.ts";
import { expandEvents, objectSpan, SPAN_UNBOUNDED_END } from "../../../src/capabilities/calendar/expand-occurrences.ts";
import { parseIcs } from "../../../src/capabilities/calendar/ical-codec.ts";
import { wallToInstant } from "../../../src/capabilities/calendar/zoned-time.ts";
import { BERLIN_VTIMEZONE, ics, vevent } from "./calendar-home.ts";

const BERLIN = "Europe/Berlin";
const win = (from: string, to: string, displayZone = BERLIN) => ({ fromMs: Date.parse(from), toMs: Date.parse(to), displayZone });
const starts = (text: string, w: ReturnType<typeof win>) =>
  expandEvents(parseIcs(text), w).occurrences.map((o) => new Date(o.startMs).toISOString());

const WEEKLY = [
  "DTSTART;TZID=Europe/Berlin:20261012T090000",
  "DTEND;TZID=Europe/Berlin:20261012T093000",
  "RRULE:FREQ=WEEKLY",
  "SUMMARY:Ops sync",
];

describe("weekly recurrence across a DST change", () => {
  it("stays at 09:00 Berlin wall time: 07:00Z in summer time, 08:00Z after 25 October", () => {
    const text = ics([vevent("w1", ...WEEKLY)], [BERLIN_VTIMEZONE]);
    const r = expandEvents(parseIcs(text), win("2026-10-18T22:00:00Z", "2026-11-02T23:00:00Z"));
    expect(r.occurrences.map((o) => [new Date(o.startMs).toISOString(), new Date(o.endMs).toISOString()])).toEqual([
      ["2026-10-19T07:00:00.000Z", "2026-10-19T07:30:00.000Z"],
      ["2026-10-26T08:00:00.000Z", "2026-10-26T08:30:00.000Z"],
      ["2026-11-02T08:00:00.000Z", "2026-11-02T08:30:00.000Z"],
    ]);
    expect(r.occurrences[0]).toMatchObject({
      uid: "w1",
      recurring: true,
      overridden: false,
      eventZone: BERLIN,
      recurrenceId: "2026-10-19T07:00:00.000Z",
    });
  });

  it("gives the same instants with the VTIMEZONE missing (the TZID is read from the IANA database)", () => {
    expect(starts(ics([vevent("w1", ...WEEKLY)]), win("2026-10-18T22:00:00Z", "2026-11-02T23:00:00Z"))).toEqual([
      "2026-10-19T07:00:00.000Z",
      "2026-10-26T08:00:00.000Z",
      "2026-11-02T08:00:00.000Z",
    ]);
  });

  it("works the other way round in New York (DST ends 1 November 2026): 13:00Z then 14:00Z", () => {
    const text = ics([vevent("ny", "DTSTART;TZID=America/New_York:20261026T090000", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=3")]);
    expect(starts(text, win("2026-10-20T00:00:00Z", "2026-12-01T00:00:00Z"))).toEqual([
      "2026-10-26T13:00:00.000Z",
      "2026-11-02T14:00:00.000Z",
      "2026-11-09T14:00:00.000Z",
    ]);
  });

  it("reads a non-IANA TZID from its VTIMEZONE (Outlook's W. Europe Standard Time)", () => {
    const outlook = BERLIN_VTIMEZONE.replace("TZID:Europe/Berlin", "TZID:W. Europe Standard Time");
    const text = ics([vevent("o1", ...WEEKLY.map((l) => l.replace("TZID=Europe/Berlin", "TZID=W. Europe Standard Time")))], [outlook]);
    expect(starts(text, win("2026-10-18T22:00:00Z", "2026-10-27T00:00:00Z"))).toEqual([
      "2026-10-19T07:00:00.000Z",
      "2026-10-26T08:00:00.000Z",
    ]);
  });
});

describe("EXDATE and RECURRENCE-ID", () => {
  it("EXDATE removes an occurrence; an override replaces the one its RECURRENCE-ID names", () => {
    const text = ics([
      vevent("w1", ...WEEKLY, "EXDATE;TZID=Europe/Berlin:20261102T090000"),
      vevent(
        "w1",
        "RECURRENCE-ID;TZID=Europe/Berlin:20261026T090000",
        "DTSTART;TZID=Europe/Berlin:20261026T110000",
        "DTEND;TZID=Europe/Berlin:20261026T120000",
        "SUMMARY:Ops sync (moved)",
      ),
    ]);
    const r = expandEvents(parseIcs(text), win("2026-10-18T22:00:00Z", "2026-11-09T23:00:00Z"));
    expect(r.occurrences.map((o) => [new Date(o.startMs).toISOString(), o.summary, o.overridden])).toEqual([
      ["2026-10-19T07:00:00.000Z", "Ops sync", false],
      ["2026-10-26T10:00:00.000Z", "Ops sync (moved)", true],
      ["2026-11-09T08:00:00.000Z", "Ops sync", false],
    ]);
    expect(r.occurrences[1]!.recurrenceId).toBe("2026-10-26T08:00:00.000Z");
  });

  it("matches an override and an EXDATE written in UTC to the zoned occurrence they name", () => {
    const text = ics([
      vevent("w1", ...WEEKLY, "EXDATE:20261019T070000Z"),
      vevent("w1", "RECURRENCE-ID:20261026T080000Z", "DTSTART:20261026T150000Z", "DTEND:20261026T153000Z", "SUMMARY:late"),
    ]);
    expect(starts(text, win("2026-10-18T22:00:00Z", "2026-10-31T00:00:00Z"))).toEqual(["2026-10-26T15:00:00.000Z"]);
  });

  it("shows an override moved into the window even though its original slot is outside", () => {
    const text = ics([
      vevent("w1", ...WEEKLY),
      vevent(
        "w1",
        "RECURRENCE-ID;TZID=Europe/Berlin:20261109T090000",
        "DTSTART;TZID=Europe/Berlin:20261030T090000",
        "DTEND;TZID=Europe/Berlin:20261030T093000",
        "SUMMARY:early",
      ),
    ]);
    const r = expandEvents(parseIcs(text), win("2026-10-29T23:00:00Z", "2026-10-31T00:00:00Z"));
    expect(r.occurrences.map((o) => [new Date(o.startMs).toISOString(), o.summary])).toEqual([["2026-10-30T08:00:00.000Z", "early"]]);
    // …and the slot it left is empty.
    expect(starts(text, win("2026-11-08T23:00:00Z", "2026-11-10T00:00:00Z"))).toEqual([]);
  });

  it("applies COUNT and UNTIL (UTC until, zoned start)", () => {
    const counted = ics([vevent("c", "DTSTART;TZID=Europe/Berlin:20261201T090000", "DURATION:PT15M", "RRULE:FREQ=DAILY;COUNT=3")]);
    expect(starts(counted, win("2026-11-30T00:00:00Z", "2026-12-31T00:00:00Z"))).toEqual([
      "2026-12-01T08:00:00.000Z",
      "2026-12-02T08:00:00.000Z",
      "2026-12-03T08:00:00.000Z",
    ]);
    const until = ics([
      vevent("u", "DTSTART;TZID=Europe/Berlin:20261201T090000", "DURATION:PT15M", "RRULE:FREQ=DAILY;UNTIL=20261202T080000Z"),
    ]);
    expect(starts(until, win("2026-11-30T00:00:00Z", "2026-12-31T00:00:00Z"))).toEqual([
      "2026-12-01T08:00:00.000Z",
      "2026-12-02T08:00:00.000Z",
    ]);
  });
});

describe("all-day and floating times", () => {
  it("an all-day event covers the display zone's day; floating times are read in the display zone", () => {
    const text = ics([
      vevent("d", "DTSTART;VALUE=DATE:20261207", "DTEND;VALUE=DATE:20261208", "SUMMARY:Holiday"),
      vevent("f", "DTSTART:20261207T090000", "DTEND:20261207T100000", "SUMMARY:Floating"),
    ]);
    const r = expandEvents(parseIcs(text), win("2026-12-06T23:00:00Z", "2026-12-07T23:00:00Z"));
    expect(
      r.occurrences.map((o) => [
        o.summary,
        new Date(o.startMs).toISOString(),
        new Date(o.endMs).toISOString(),
        o.allDay,
        o.startDate,
        o.eventZone,
      ]),
    ).toEqual([
      ["Holiday", "2026-12-06T23:00:00.000Z", "2026-12-07T23:00:00.000Z", true, "2026-12-07", "floating"],
      ["Floating", "2026-12-07T08:00:00.000Z", "2026-12-07T09:00:00.000Z", false, null, "floating"],
    ]);
  });
});

describe("malformed iCalendar", () => {
  it("unfolds lines folded with CRLF+space, bare LF+space and LF+tab", () => {
    const text = [
      "BEGIN:VCALENDAR",
      "BEGIN:VEVENT",
      "UID:fold-1",
      "DTSTART:20261207T090000Z",
      "SUMMARY:On-call: Ana with a summary long enough that a client fo",
      " lded it",
      "DESCRIPTION:first\n second\n\tthird",
      "END:VEVENT",
      "END:VCALENDAR",
    ].join("\r\n");
    const ev = parseIcs(text).events[0]!;
    expect(ev.summary).toBe("On-call: Ana with a summary long enough that a client folded it");
    expect(ev.description).toBe("firstsecondthird");
  });

  it("refuses an invalid RRULE event by event, with its line, and reads the others", () => {
    const text = ics([
      vevent("bad-freq", "DTSTART:20261207T090000Z", "RRULE:FREQ=SOMETIMES"),
      vevent("bad-interval", "DTSTART:20261207T090000Z", "RRULE:FREQ=WEEKLY;INTERVAL=0"),
      vevent("bad-both", "DTSTART:20261207T090000Z", "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20261210T000000Z"),
      vevent("good", "DTSTART:20261207T090000Z", "SUMMARY:fine"),
    ]);
    const c = parseIcs(text);
    expect(c.events.map((e) => e.uid)).toEqual(["good"]);
    expect(c.refused.map((r) => [r.uid, r.line])).toEqual([
      ["bad-freq", 4],
      ["bad-interval", 10],
      ["bad-both", 16],
    ]);
    expect(c.refused[0]!.detail).toContain("SOMETIMES");
    expect(c.refused[1]!.detail).toBe("RRULE: INTERVAL must be a positive integer (got 0)");
    expect(c.refused[2]!.detail).toBe("RRULE: COUNT and UNTIL may not both be set");
  });

  it("refuses a TZID that is neither IANA nor defined by a VTIMEZONE", () => {
    const c = parseIcs(ics([vevent("z", "DTSTART;TZID=Mars/Olympus:20261207T090000")]));
    expect(c.events).toEqual([]);
    expect(c.refused[0]!.detail).toBe("TZID Mars/Olympus has no VTIMEZONE and is not an IANA time zone");
  });

  it("accepts a prefixed IANA TZID (/mozilla.org/…/Europe/Berlin)", () => {
    const text = ics([vevent("m", "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20261207T090000")]);
    expect(starts(text, win("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"))).toEqual(["2026-12-07T08:00:00.000Z"]);
  });

  it("refuses impossible dates and missing DTSTART per event", () => {
    const c = parseIcs(ics([vevent("d1", "DTSTART:20261332T090000Z"), vevent("d2", "SUMMARY:no start")]));
    expect(c.refused.map((r) => [r.uid, r.detail])).toEqual([
      ["d1", "DTSTART: 2026-13-32T09:00:00Z is not a real date and time"],
      ["d2", "DTSTART is missing"],
    ]);
  });

  it("throws calendar_ics_invalid with the line when the text is not iCalendar at all", () => {
    const cases: [string, string][] = [
      ["BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", "BEGIN:VEVENT is never closed"],
      ["BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n", "line 3: END:VCALENDAR does not close BEGIN:VEVENT"],
      ["<html>nope</html>", "line 1: content outside BEGIN:VCALENDAR: <html>nope</html>"],
      ["", "empty iCalendar text"],
    ];
    for (const [text, message] of cases) {
      let err: unknown;
      try {
        parseIcs(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CalendarError);
      expect([(err as CalendarError).reason, (err as CalendarError).message]).toEqual(["calendar_ics_invalid", message]);
    }
  });
});

describe("zoned time and spans", () => {
  it("reads a skipped wall time with the offset before the gap and a repeated one as its first occurrence", () => {
    // 2027-03-28 02:30 does not exist in Berlin (02:00 → 03:00): read as 03:30 CEST = 01:30Z.
    expect(new Date(wallToInstant({ year: 2027, month: 3, day: 28, hour: 2, minute: 30, second: 0 }, BERLIN)).toISOString()).toBe(
      "2027-03-28T01:30:00.000Z",
    );
    // 2026-10-25 02:30 happens twice: the first one is still CEST = 00:30Z.
    expect(new Date(wallToInstant({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 }, BERLIN)).toISOString()).toBe(
      "2026-10-25T00:30:00.000Z",
    );
  });

  it("indexes an open-ended rule as unbounded and a counted one up to its last occurrence (plus a day)", () => {
    const open = objectSpan(parseIcs(ics([vevent("w1", ...WEEKLY)])), BERLIN);
    expect([new Date(open.startMs).toISOString(), open.endMs]).toEqual(["2026-10-11T07:00:00.000Z", SPAN_UNBOUNDED_END]);
    const counted = objectSpan(
      parseIcs(ics([vevent("c", "DTSTART:20261201T080000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=3")])),
      BERLIN,
    );
    expect([new Date(counted.startMs).toISOString(), new Date(counted.endMs).toISOString()]).toEqual([
      "2026-11-30T08:00:00.000Z",
      "2026-12-04T09:00:00.000Z",
    ]);
  });
});
