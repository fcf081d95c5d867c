/**
 * @module The calendar capabilities against a real Radicale (real HTTP, htpasswd auth, real SQLite): discovery and
 * status, a weekly event across DST with an override and an EXDATE written by another client, tau's copy kept
 * current (fresh / unchanged / incremental), on-call, create → stale-ETag update (conflict, not overwritten) → update
 * → delete, wrong password, server down, contract problems, and contacts search.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { calendarDoctorChecks, calendarHealthFact } from "../../../src/capabilities/calendar/index.ts";
import { radicaleSkipReason, startRadicale, type RadicaleHandle } from "../../helpers/radicale.ts";
import { BERLIN_VTIMEZONE, ics, makeCalendarHome, vevent, type CalendarHome } from "./calendar-home.ts";

const skip = radicaleSkipReason();
if (skip) console.warn(`test/capabilities/calendar/caldav.test.ts: ${skip}`);

let rad: RadicaleHandle;
const homes: CalendarHome[] = [];
const home = (o: Omit<Parameters<typeof makeCalendarHome>[0], "radicale"> = {}) => {
  const h = makeCalendarHome({ radicale: rad, ...o });
  homes.push(h);
  return h;
};
const ops = () => rad.users[0]!;
let seq = 0;
/** A fresh calendar for one test (its own name, so tests never see each other's events). */
async function calendar(displayName?: string): Promise<{ name: string; path: string }> {
  const name = `cal-${++seq}`;
  await rad.mkcalendar(ops(), name, displayName ?? name);
  return { name: displayName ?? name, path: `/ops/${name}/` };
}
const data = <T>(r: { data?: unknown }) => r.data as T;

beforeAll(async () => {
  if (skip) return;
  rad = await startRadicale({
    users: [
      { user: "ops", pass: "secret" },
      { user: "dana", pass: "other-secret" },
    ],
  });
  // Radicale creates a principal's home on first authenticated access.
  await rad.request(ops(), "PROPFIND", "/ops/", undefined, { depth: "0" });
});
afterEach(() => {
  for (const h of homes.splice(0)) h.close();
});
afterAll(async () => rad?.close());

const WEEKLY = [
  "DTSTART;TZID=Europe/Berlin:20261012T090000",
  "DTEND;TZID=Europe/Berlin:20261012T093000",
  "RRULE:FREQ=WEEKLY",
  "EXDATE;TZID=Europe/Berlin:20261102T090000",
  "SUMMARY:On-call: Ana",
];
const OVERRIDE = [
  "RECURRENCE-ID;TZID=Europe/Berlin:20261026T090000",
  "DTSTART;TZID=Europe/Berlin:20261026T110000",
  "DTEND;TZID=Europe/Berlin:20261026T113000",
  "SUMMARY:On-call: Ana (late start)",
];

interface Listed {
  total: number;
  copy: { how: string; changed: number; removed: number };
  occurrences: { uid: string; summary: string; start: string; end: string; start_utc: string; overridden: boolean; etag: string }[];
  refused: { uid: string | null; reason_code: string; detail: string }[];
}

describe.skipIf(skip)("calendar over CalDAV (Radicale)", () => {
  it("status: discovery through /.well-known/caldav, authentication, calendars with ctag and sync-token", async () => {
    const cal = await calendar("spine-ops");
    const h = home();
    const r = await h.run("calendar.caldav.status");
    expect(r).toMatchObject({ status: "reported", reason_code: "calendar_caldav_ok" });
    const d = data<{
      principal_url: string;
      calendar_home_url: string;
      calendars: { name: string; default: boolean; ctag: string; sync_token: string; sync_collection: boolean }[];
      probe_ms: number;
    }>(r);
    expect(d.principal_url).toBe(`${rad.url}ops/`);
    expect(d.calendar_home_url).toBe(`${rad.url}ops/`);
    const mine = d.calendars.find((c) => c.name === cal.name)!;
    expect(mine).toMatchObject({ default: true, sync_collection: true });
    expect(mine.ctag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(mine.sync_token).toMatch(/^http:\/\/radicale\.org\/ns\/sync\//);
    expect(typeof d.probe_ms).toBe("number");
    expect(r.text).not.toContain("secret");
    // The default calendar may also be named by its path segment.
    const seg = home({ calendar: cal.path.split("/")[2] });
    expect((await seg.run("calendar.events.list", { from: "today" })).reason_code).toBe("calendar_events_listed");
  });

  it("lists a weekly event across the DST change with an override and an EXDATE, in Berlin time", async () => {
    const cal = await calendar();
    await rad.put(ops(), cal.path, "w1.ics", ics([vevent("w1", ...WEEKLY), vevent("w1", ...OVERRIDE)], [BERLIN_VTIMEZONE]));
    const h = home({ calendar: cal.name });
    const r = await h.run("calendar.events.list", { from: "2026-10-19", to: "2026-11-08" });
    expect(r).toMatchObject({ status: "reported", reason_code: "calendar_events_listed" });
    const d = data<Listed>(r);
    expect(d.copy.how).toBe("full");
    expect(d.occurrences.map((o) => [o.start, o.end, o.start_utc, o.summary, o.overridden])).toEqual([
      ["2026-10-19T09:00:00+02:00", "2026-10-19T09:30:00+02:00", "2026-10-19T07:00:00.000Z", "On-call: Ana", false],
      ["2026-10-26T11:00:00+01:00", "2026-10-26T11:30:00+01:00", "2026-10-26T10:00:00.000Z", "On-call: Ana (late start)", true],
    ]);
    expect(r.text.split("\n").slice(1)).toEqual([
      "Mon 19 Oct 09:00–09:30  On-call: Ana",
      "Mon 26 Oct 11:00–11:30  On-call: Ana (late start)",
    ]);
  });

  it("keeps tau's copy current: fresh within max_staleness_seconds, unchanged by ctag, incremental by sync-token", async () => {
    const cal = await calendar();
    await rad.put(ops(), cal.path, "a.ics", ics([vevent("a", "DTSTART:20261207T080000Z", "DTEND:20261207T090000Z", "SUMMARY:Alpha")]));
    const h = home({ calendar: cal.name });
    const list = async () => data<Listed>(await h.run("calendar.events.list", { from: "2026-12-07" }));
    expect((await list()).copy.how).toBe("full");
    // Another client adds an event: within the staleness window tau answers from its copy.
    await rad.put(ops(), cal.path, "b.ics", ics([vevent("b", "DTSTART:20261207T100000Z", "DTEND:20261207T110000Z", "SUMMARY:Beta")]));
    const fresh = await list();
    expect([fresh.copy.how, fresh.occurrences.map((o) => o.summary)]).toEqual(["fresh", ["Alpha"]]);
    h.now += 61_000;
    const inc = await list();
    expect([inc.copy.how, inc.copy.changed, inc.occurrences.map((o) => o.summary)]).toEqual(["incremental", 1, ["Alpha", "Beta"]]);
    h.now += 61_000;
    expect((await list()).copy.how).toBe("unchanged");
    // A delete by another client is picked up too.
    expect((await rad.request(ops(), "DELETE", `${cal.path}a.ics`)).status).toBe(200);
    h.now += 61_000;
    const del = await list();
    expect([del.copy.how, del.copy.removed, del.occurrences.map((o) => o.summary)]).toEqual(["incremental", 1, ["Beta"]]);
  });

  it("answers who is on call now, naming the person from the pattern's who group", async () => {
    const cal = await calendar();
    await rad.put(
      ops(),
      cal.path,
      "oc.ics",
      ics([
        vevent(
          "oc",
          "DTSTART;TZID=Europe/Berlin:20261130T090000",
          "DTEND;TZID=Europe/Berlin:20261207T090000",
          "RRULE:FREQ=WEEKLY;INTERVAL=2",
          "SUMMARY:On-call: Ana",
        ),
      ]),
    );
    await rad.put(
      ops(),
      cal.path,
      "oc2.ics",
      ics([
        vevent(
          "oc2",
          "DTSTART;TZID=Europe/Berlin:20261207T090000",
          "DTEND;TZID=Europe/Berlin:20261214T090000",
          "RRULE:FREQ=WEEKLY;INTERVAL=2",
          "SUMMARY:On-call: Ben",
        ),
      ]),
    );
    await rad.put(ops(), cal.path, "x.ics", ics([vevent("x", "DTSTART:20261206T090000Z", "DTEND:20261206T110000Z", "SUMMARY:Lunch")]));
    const h = home({ calendar: cal.name, extra: { oncall: { summary_pattern: "^on-call: (?<who>.+)$" } } });
    const r = await h.run("calendar.oncall");
    expect(r).toMatchObject({ status: "reported", reason_code: "calendar_oncall_found" });
    const d = data<{ on_call: { who: string; start: string; end: string }[]; next: { who: string; start: string } }>(r);
    expect(d.on_call.map((o) => [o.who, o.start, o.end])).toEqual([["Ana", "2026-11-30T09:00:00+01:00", "2026-12-07T09:00:00+01:00"]]);
    expect([d.next.who, d.next.start]).toEqual(["Ben", "2026-12-07T09:00:00+01:00"]);
    const later = await h.run("calendar.oncall", { at: "2026-12-08T12:00" });
    expect(data<{ on_call: { who: string }[] }>(later).on_call.map((o) => o.who)).toEqual(["Ben"]);
  });

  it("create → update with a stale ETag (conflict, not overwritten) → update with the right one → delete", async () => {
    const cal = await calendar();
    const h = home({ calendar: cal.name });
    const created = await h.run("calendar.events.create", {
      summary: "Deploy window",
      start: "2026-12-08T10:00",
      duration: "90m",
      location: "ops room",
    });
    expect(created).toMatchObject({ status: "reported", reason_code: "calendar_event_created" });
    const c = data<{ uid: string; etag: string; href: string; start: string; end: string }>(created);
    expect([c.start, c.end]).toEqual(["2026-12-08T10:00:00+01:00", "2026-12-08T11:30:00+01:00"]);
    expect(c.uid).toMatch(/^tau-[0-9a-f]{32}$/);
    const raw = await (await rad.request(ops(), "GET", new URL(c.href).pathname)).text();
    expect(raw).toContain("DTSTART;TZID=Europe/Berlin:20261208T100000");
    // The same create again (a retry after a timeout) lands on the same UID: nothing new is written.
    expect(
      (
        await h.run("calendar.events.create", {
          summary: "Deploy window",
          start: "2026-12-08T10:00",
          duration: "90m",
          location: "ops room",
        })
      ).reason_code,
    ).toBe("calendar_event_exists");

    // Someone else edits the event; the operator still holds the old ETag.
    const edited = raw.replace("SUMMARY:Deploy window", "SUMMARY:Deploy window (moved by Dana)");
    const theirs = await rad.put(ops(), cal.path, new URL(c.href).pathname.split("/").pop()!, edited);
    const stale = await h.run("calendar.events.update", { uid: c.uid, etag: c.etag, summary: "Deploy window v2" });
    expect(stale).toMatchObject({ status: "failed", reason_code: "calendar_conflict" });
    expect(data<{ current: { etag: string; summary: string } }>(stale).current).toMatchObject({
      etag: theirs,
      summary: "Deploy window (moved by Dana)",
    });
    expect(await (await rad.request(ops(), "GET", new URL(c.href).pathname)).text()).toContain("SUMMARY:Deploy window (moved by Dana)");

    const ok = await h.run("calendar.events.update", { uid: c.uid, etag: theirs!, summary: "Deploy window v2", start: "2026-12-08T14:00" });
    expect(ok).toMatchObject({ status: "reported", reason_code: "calendar_event_updated" });
    const u = data<{ etag: string; start: string; end: string; sequence: number; summary: string }>(ok);
    expect([u.summary, u.start, u.end, u.sequence]).toEqual([
      "Deploy window v2",
      "2026-12-08T14:00:00+01:00",
      "2026-12-08T15:30:00+01:00",
      1,
    ]);
    expect(u.etag).not.toBe(theirs);

    const badDelete = await h.run("calendar.events.delete", { uid: c.uid, etag: theirs! });
    expect(badDelete).toMatchObject({ status: "failed", reason_code: "calendar_conflict" });
    expect((await rad.request(ops(), "GET", new URL(c.href).pathname)).status).toBe(200);
    const gone = await h.run("calendar.events.delete", { uid: c.uid, etag: u.etag });
    expect(gone).toMatchObject({ status: "reported", reason_code: "calendar_event_deleted" });
    expect((await rad.request(ops(), "GET", new URL(c.href).pathname)).status).toBe(404);
    expect((await h.run("calendar.events.delete", { uid: c.uid })).reason_code).toBe("calendar_event_not_found");
    const listed = data<Listed>(await h.run("calendar.events.list", { from: "2026-12-08" }));
    expect(listed.total).toBe(0);
  });

  it("creates a recurring event and refuses an invalid RRULE before writing anything", async () => {
    const cal = await calendar();
    const h = home({ calendar: cal.name });
    const bad = await h.run("calendar.events.create", { summary: "Standup", start: "2026-12-07T09:15", rrule: "FREQ=WEEKLY;BYDAY=XX" });
    expect(bad).toMatchObject({ status: "failed", reason_code: "calendar_ics_invalid" });
    const good = await h.run("calendar.events.create", {
      summary: "Standup",
      start: "2026-12-07T09:15",
      duration: "15m",
      rrule: "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
      uid: "standup@spine",
    });
    expect(good).toMatchObject({ status: "reported", reason_code: "calendar_event_created" });
    const week = data<Listed>(await h.run("calendar.events.list", { from: "2026-12-07", to: "2026-12-13" }));
    expect(week.occurrences.map((o) => o.start)).toEqual([
      "2026-12-07T09:15:00+01:00",
      "2026-12-08T09:15:00+01:00",
      "2026-12-09T09:15:00+01:00",
      "2026-12-10T09:15:00+01:00",
      "2026-12-11T09:15:00+01:00",
    ]);
    expect((await h.run("calendar.events.create", { summary: "x", start: "2026-12-07T09:15", end: "2026-12-07T09:00" })).reason_code).toBe(
      "calendar_args_invalid",
    );
  });

  it("reports calendar_auth_failed on a wrong password, and records the server fact", async () => {
    await calendar("spine-ops");
    const h = home({ password: "wrong" });
    const r = await h.run("calendar.events.list", { from: "today" });
    expect(r).toMatchObject({ status: "failed", reason_code: "calendar_auth_failed" });
    expect(r.text).not.toContain("wrong");
    expect(JSON.stringify(r.data)).not.toContain("wrong");
    expect(h.app.store.calendar.serverFact(`${rad.url}|ops`)).toMatchObject({ ok: 0, reason: "calendar_auth_failed" });
    const none = home({ password: null });
    expect((await none.run("calendar.caldav.status")).reason_code).toBe("calendar_credentials_missing");
  });

  it("reports calendar_server_unavailable when the server is down, and recovers when it is back", async () => {
    const cal = await calendar();
    const h = home({ calendar: cal.name });
    expect((await h.run("calendar.events.list", { from: "today" })).reason_code).toBe("calendar_events_listed");
    await rad.stop();
    try {
      h.now += 61_000;
      const down = await h.run("calendar.events.list", { from: "today" });
      expect(down).toMatchObject({ status: "failed", reason_code: "calendar_server_unavailable" });
      expect(down.text).toContain("ECONNREFUSED");
      expect((await h.run("calendar.caldav.status")).reason_code).toBe("calendar_server_unavailable");
      expect(h.app.store.calendar.serverFact(`${rad.url}|ops`)).toMatchObject({ ok: 0, reason: "calendar_server_unavailable" });
      // What health reads (persisted facts only): configured, and the server's last answer was a failure.
      expect(calendarHealthFact(h.services.policiesDir, h.app.store.calendar)).toMatchObject({
        contractError: null,
        serverDown: "calendar_server_unavailable",
      });
    } finally {
      await rad.start();
    }
    expect((await h.run("calendar.events.list", { from: "today" })).reason_code).toBe("calendar_events_listed");
    expect(h.app.store.calendar.serverFact(`${rad.url}|ops`)).toMatchObject({ ok: 1 });
    expect(calendarHealthFact(h.services.policiesDir, h.app.store.calendar)).toMatchObject({ serverDown: null });
  });

  it("answers calendar_not_configured without calendar.yaml, calendar_contract_invalid with file:line, calendar_not_found for an unknown calendar", async () => {
    const h = home();
    h.editContract((c) => {
      c.caldav.time_zone = "Mars/Olympus";
    });
    expect(calendarHealthFact(h.services.policiesDir, h.app.store.calendar)?.contractError).toMatch(/caldav\.time_zone/);
    const invalid = await h.run("calendar.events.list");
    expect(invalid).toMatchObject({ status: "failed", reason_code: "calendar_contract_invalid" });
    expect(invalid.text).toMatch(/calendar\.yaml:\d+:\d+: caldav\.time_zone: an IANA time zone/);
    const missing = home({ calendar: "no-such-calendar" });
    const nf = await missing.run("calendar.events.list");
    expect(nf).toMatchObject({ status: "failed", reason_code: "calendar_not_found" });
    const fs = await import("node:fs");
    fs.rmSync(`${missing.commsDir}/calendar.yaml`);
    expect((await missing.run("calendar.oncall")).reason_code).toBe("calendar_not_configured");
    expect(calendarHealthFact(missing.services.policiesDir, missing.app.store.calendar)).toBeNull();
  });

  it("tau doctor: the contract, the password secret and (online) a probe of the server", async () => {
    await calendar("spine-ops");
    const h = home();
    const codes = async (hh: CalendarHome, online: boolean) =>
      (await calendarDoctorChecks(hh.services, online)).map((c) => [c.check, c.status, c.reason_code]);
    expect(await codes(h, true)).toEqual([
      ["calendar.contract", "pass", "calendar_contract_valid"],
      ["credentials.caldav-password", "pass", "credential_present"],
      ["probe.caldav", "pass", "probe_ok"],
    ]);
    expect((await codes(home({ password: "wrong" }), true)).at(-1)).toEqual(["probe.caldav", "fail", "probe_online_caldav_auth_failed"]);
    expect((await codes(home({ password: null }), true)).at(-1)).toEqual([
      "credentials.caldav-password",
      "fail",
      "calendar_credentials_missing",
    ]);
    const none = home();
    (await import("node:fs")).rmSync(`${none.commsDir}/calendar.yaml`);
    expect(await codes(none, true)).toEqual([["calendar.contract", "pass", "calendar_not_configured"]]);
  });

  it("finds contacts by name, email and phone digits (CardDAV)", async () => {
    await rad.mkaddressbook(ops(), `book-${++seq}`, "contacts");
    const path = `/ops/book-${seq}/`;
    const vcard = (uid: string, ...lines: string[]) => ["BEGIN:VCARD", "VERSION:3.0", `UID:${uid}`, ...lines, "END:VCARD", ""].join("\r\n");
    await rad.put(
      ops(),
      path,
      "ana.vcf",
      vcard("ana", "FN:Ana Lima", "N:Lima;Ana;;;", "EMAIL;TYPE=work:ana@spine.example", "TEL;TYPE=cell:+49 151 2345 678", "ORG:Spine Ops"),
      "text/vcard",
    );
    await rad.put(
      ops(),
      path,
      "ben.vcf",
      vcard("ben", "FN:Ben Ode", "N:Ode;Ben;;;", "EMAIL:ben@vendor.example", "TEL:+1 555 0100"),
      "text/vcard",
    );
    const h = home();
    const byName = await h.run("contacts.search", { query: "lima" });
    expect(byName).toMatchObject({ status: "reported", reason_code: "contacts_found" });
    expect(data<{ contacts: { name: string; emails: string[]; phones: string[]; org: string }[] }>(byName).contacts).toEqual([
      { uid: "ana", name: "Ana Lima", emails: ["ana@spine.example"], phones: ["+49 151 2345 678"], org: "Spine Ops" },
    ]);
    const byEmail = await h.run("contacts.search", { query: "vendor.example", field: "email" });
    expect(data<{ contacts: { name: string }[] }>(byEmail).contacts.map((c) => c.name)).toEqual(["Ben Ode"]);
    const byPhone = await h.run("contacts.search", { query: "151-2345678" });
    expect(data<{ contacts: { name: string }[] }>(byPhone).contacts.map((c) => c.name)).toEqual(["Ana Lima"]);
    expect((await h.run("contacts.search", { query: "nobody" })).reason_code).toBe("contacts_none");
    const noCard = home({ carddav: null });
    expect((await noCard.run("contacts.search", { query: "ana" })).reason_code).toBe("contacts_not_configured");
  });
});
