/**
 * @module ICS sync plan → execute against a real Radicale: nothing is written by a plan; execute applies it once;
 * planning and executing again is a no-op; an edited source updates, deletes and creates by UID; an event tau did not
 * bring is left alone; a calendar changed since the plan refuses it (stale); bad sources are refused with reason codes.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { executeCapability } from "../../../src/capabilities/execute.ts";
import { radicaleSkipReason, startRadicale, type RadicaleHandle } from "../../helpers/radicale.ts";
import { BERLIN_VTIMEZONE, ics, makeCalendarHome, vevent, type CalendarHome } from "./calendar-home.ts";

const skip = radicaleSkipReason();
if (skip) console.warn(`test/capabilities/calendar/sync.test.ts: ${skip}`);

let rad: RadicaleHandle;
const homes: CalendarHome[] = [];
let seq = 0;
const ops = () => rad.users[0]!;

beforeAll(async () => {
  if (skip) return;
  rad = await startRadicale();
  await rad.request(ops(), "PROPFIND", "/ops/", undefined, { depth: "0" });
});
afterEach(() => {
  for (const h of homes.splice(0)) h.close();
});
afterAll(async () => rad?.close());

/** A home on a fresh calendar, and a writer for source files under its sync.file_root. */
async function setup(extra: Record<string, unknown> = {}) {
  const name = `sync-${++seq}`;
  await rad.mkcalendar(ops(), name);
  const h = makeCalendarHome({ radicale: rad, calendar: name, extra });
  homes.push(h);
  const root = path.join(h.commsDir, "calendar-sources");
  fs.mkdirSync(root, { recursive: true });
  const write = (file: string, text: string) => fs.writeFileSync(path.join(root, file), text);
  return { h, name, path: `/ops/${name}/`, root, write };
}

/** The objects on the server, by file name → text (what another client would see). */
async function serverObjects(collectionPath: string): Promise<Record<string, string>> {
  const r = await rad.request(ops(), "PROPFIND", collectionPath, undefined, { depth: "1" });
  const hrefs = [...(await r.text()).matchAll(/<href>([^<]+\.ics)<\/href>/g)].map((m) => m[1]!);
  const out: Record<string, string> = {};
  for (const href of hrefs) out[decodeURIComponent(href.split("/").pop()!)] = await (await rad.request(ops(), "GET", href)).text();
  return out;
}

const SOURCE_V1 = ics(
  [
    vevent(
      "rota-week@vendor",
      "DTSTART;TZID=Europe/Berlin:20261207T090000",
      "DTEND;TZID=Europe/Berlin:20261214T090000",
      "RRULE:FREQ=WEEKLY;COUNT=4",
      "SUMMARY:On-call: Ana",
    ),
    vevent(
      "rota-week@vendor",
      "RECURRENCE-ID;TZID=Europe/Berlin:20261221T090000",
      "DTSTART;TZID=Europe/Berlin:20261221T120000",
      "DTEND;TZID=Europe/Berlin:20261228T090000",
      "SUMMARY:On-call: Ben",
    ),
    vevent("freeze@vendor", "DTSTART;VALUE=DATE:20261218", "DTEND;VALUE=DATE:20270104", "SUMMARY:Change freeze"),
    vevent("review@vendor", "DTSTART:20261210T140000Z", "DTEND:20261210T150000Z", "SUMMARY:Rota review"),
    vevent("broken@vendor", "DTSTART:20261211T140000Z", "RRULE:FREQ=FORTNIGHTLY", "SUMMARY:broken rule"),
  ],
  [BERLIN_VTIMEZONE],
);

interface Plan {
  plan_id: string;
  counts: { create: number; update: number; delete: number; unchanged: number; skipped: number };
  actions: { op: string; uid: string }[];
  skipped: { uid: string; reason_code: string }[];
}
const plan = (r: { data?: unknown }) => r.data as Plan;

describe.skipIf(skip)("calendar sync plan → execute (Radicale)", () => {
  it("plans without writing, executes once, and a second plan/execute is a no-op", async () => {
    const { h, path: cal, write } = await setup();
    write("rota.ics", SOURCE_V1);
    const p1 = await h.run("calendar.sync.plan", { source: "rota.ics" });
    expect(p1).toMatchObject({ status: "reported", reason_code: "calendar_sync_planned" });
    expect(plan(p1).counts).toEqual({ create: 3, update: 0, delete: 0, unchanged: 0, skipped: 1 });
    expect(plan(p1).skipped).toEqual([expect.objectContaining({ uid: "broken@vendor", reason_code: "calendar_ics_invalid" })]);
    expect(await serverObjects(cal)).toEqual({});

    const e1 = await h.run("calendar.sync.execute", { plan_id: plan(p1).plan_id });
    expect(e1).toMatchObject({ status: "reported", reason_code: "calendar_sync_executed" });
    expect((e1.data as { done: number }).done).toBe(3);
    const stored = await serverObjects(cal);
    expect(Object.keys(stored).sort()).toEqual(["freeze@vendor.ics", "review@vendor.ics", "rota-week@vendor.ics"]);
    expect(stored["rota-week@vendor.ics"]).toMatch(/X-TAU-SYNC-SOURCE:src-[0-9a-f]{16}/);
    expect(stored["rota-week@vendor.ics"]).toContain("RECURRENCE-ID;TZID=Europe/Berlin:20261221T090000");

    expect((await h.run("calendar.sync.execute", { plan_id: plan(p1).plan_id })).reason_code).toBe("calendar_sync_plan_already_executed");

    const p2 = await h.run("calendar.sync.plan", { source: "rota.ics" });
    expect(p2).toMatchObject({ status: "reported", reason_code: "calendar_sync_nothing_to_do" });
    expect(plan(p2).counts).toEqual({ create: 0, update: 0, delete: 0, unchanged: 3, skipped: 1 });
    const e2 = await h.run("calendar.sync.execute", { plan_id: plan(p2).plan_id });
    expect(e2).toMatchObject({ status: "reported", reason_code: "calendar_sync_executed" });
    expect((e2.data as { done: number }).done).toBe(0);
    expect(await serverObjects(cal)).toEqual(stored);

    // The listing shows the synced events, the override in place.
    const week = await h.run("calendar.events.list", { from: "2026-12-21", to: "2026-12-21" });
    expect((week.data as { occurrences: { summary: string; start: string }[] }).occurrences.map((o) => [o.summary, o.start])).toEqual([
      ["On-call: Ana", "2026-12-14T09:00:00+01:00"],
      ["Change freeze", "2026-12-18"],
      ["On-call: Ben", "2026-12-21T12:00:00+01:00"],
    ]);
  });

  it("an edited source updates, deletes and creates by UID; a restamped DTSTAMP alone changes nothing; foreign events are left alone", async () => {
    const { h, path: cal, write, name } = await setup();
    write("rota.ics", SOURCE_V1);
    await h.run("calendar.sync.execute", { plan_id: plan(await h.run("calendar.sync.plan", { source: "rota.ics" })).plan_id });
    // Someone created an event by hand whose UID the feed will also use.
    await rad.put(
      ops(),
      cal,
      "handmade.ics",
      ics([vevent("oncall-2027@vendor", "DTSTART:20270104T080000Z", "DTEND:20270104T090000Z", "SUMMARY:mine")]),
    );
    h.now += 61_000;
    const v2 = SOURCE_V1.replace(/DTSTAMP:20261101T000000Z/g, "DTSTAMP:20261205T101010Z")
      .replace("SUMMARY:Rota review", "SUMMARY:Rota review (moved)")
      .replace(/BEGIN:VEVENT\r\nUID:freeze@vendor[\s\S]*?END:VEVENT\r\n/, "")
      .replace(
        "END:VCALENDAR",
        [
          vevent("retro@vendor", "DTSTART:20261215T150000Z", "DTEND:20261215T160000Z", "SUMMARY:Retro"),
          vevent("oncall-2027@vendor", "DTSTART:20270104T080000Z", "SUMMARY:feed's"),
          "END:VCALENDAR",
        ].join("\r\n"),
      );
    write("rota.ics", v2);
    const p = await h.run("calendar.sync.plan", { source: "rota.ics", calendar: name });
    expect(plan(p).counts).toEqual({ create: 1, update: 1, delete: 1, unchanged: 1, skipped: 2 });
    expect(plan(p).actions.map((a) => [a.op, a.uid])).toEqual([
      ["create", "retro@vendor"],
      ["update", "review@vendor"],
      ["delete", "freeze@vendor"],
    ]);
    expect(plan(p).skipped.map((k) => [k.uid, k.reason_code])).toEqual([
      ["broken@vendor", "calendar_ics_invalid"],
      ["oncall-2027@vendor", "calendar_conflict"],
    ]);
    const e = await h.run("calendar.sync.execute", { plan_id: plan(p).plan_id });
    expect(e).toMatchObject({ status: "reported", reason_code: "calendar_sync_executed" });
    const stored = await serverObjects(cal);
    expect(Object.keys(stored).sort()).toEqual(["handmade.ics", "retro@vendor.ics", "review@vendor.ics", "rota-week@vendor.ics"]);
    expect(stored["review@vendor.ics"]).toContain("SUMMARY:Rota review (moved)");
    expect(stored["handmade.ics"]).toContain("SUMMARY:mine");
  });

  it("refuses a plan whose calendar changed since it was made (stale), and writes nothing", async () => {
    const { h, path: cal, write } = await setup();
    write("rota.ics", SOURCE_V1);
    const p = await h.run("calendar.sync.plan", { source: "rota.ics" });
    await rad.put(ops(), cal, "late.ics", ics([vevent("late", "DTSTART:20261209T080000Z", "SUMMARY:added after the plan")]));
    const e = await h.run("calendar.sync.execute", { plan_id: plan(p).plan_id });
    expect(e).toMatchObject({ status: "failed", reason_code: "calendar_sync_plan_stale" });
    expect(Object.keys(await serverObjects(cal))).toEqual(["late.ics"]);
    // Planning again takes the new event into account and works.
    const again = await h.run("calendar.sync.plan", { source: "rota.ics" });
    expect((await h.run("calendar.sync.execute", { plan_id: plan(again).plan_id })).reason_code).toBe("calendar_sync_executed");
  });

  it("refuses unknown and expired plans", async () => {
    const { h, write } = await setup({ sync: { plan_ttl_minutes: 1 } });
    write("rota.ics", SOURCE_V1);
    expect((await h.run("calendar.sync.execute", { plan_id: "cs_0000" })).reason_code).toBe("calendar_sync_plan_unknown");
    const p = await h.run("calendar.sync.plan", { source: "rota.ics" });
    h.now += 61_000;
    expect((await h.run("calendar.sync.execute", { plan_id: plan(p).plan_id })).reason_code).toBe("calendar_sync_plan_expired");
  });

  it("refuses bad sources with reason codes: not iCalendar, missing, outside the folder from chat, plain http", async () => {
    const { h, write, root } = await setup();
    write("broken.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VCALENDAR\r\n");
    const broken = await h.run("calendar.sync.plan", { source: "broken.ics" });
    expect(broken).toMatchObject({ status: "failed", reason_code: "calendar_ics_invalid" });
    expect(broken.text).toContain("line 4: END:VCALENDAR does not close BEGIN:VEVENT");
    expect((await h.run("calendar.sync.plan", { source: "nope.ics" })).reason_code).toBe("calendar_source_unreadable");
    const outside = path.join(path.dirname(root), "outside.ics");
    fs.writeFileSync(outside, SOURCE_V1);
    const fromChat = await h.run("calendar.sync.plan", { source: outside }, { surface: "chat" });
    expect(fromChat).toMatchObject({ status: "failed", reason_code: "calendar_source_unreadable" });
    expect(fromChat.text).toContain("must be under");
    expect((await h.run("calendar.sync.plan", { source: outside }, { surface: "cli" })).reason_code).toBe("calendar_sync_planned");
    expect((await h.run("calendar.sync.plan", { source: "http://127.0.0.1:9/feed.ics" })).reason_code).toBe("calendar_source_unreadable");
  });

  it("reads a feed whose URL is a secret by its name: the URL never reaches the answer, the audit log or the plan", async () => {
    const server = http.createServer((req, res) => {
      if (req.url === "/private-8f3a1c/basic.ics") res.writeHead(200, { "content-type": "text/calendar" }).end(SOURCE_V1);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const { h } = await setup({ sync: { allow_http_hosts: ["127.0.0.1"], sources: { rota: { url_secret: "rota-feed-url" } } } });
      const missing = await h.run("calendar.sync.plan", { source: "rota" });
      expect(missing).toMatchObject({ status: "failed", reason_code: "calendar_source_unreadable" });
      h.app.store.secrets.put("rota-feed-url", `http://127.0.0.1:${port}/private-8f3a1c/basic.ics`, h.now);
      // Through the one execute path (validate → run → audit), as `tau cap run` and chat do.
      const cap = h.services.registry.get("calendar.sync.plan")!;
      const ctx = {
        principal: "telegram:4242",
        role: "operator" as const,
        surface: "chat" as const,
        now: h.now,
        services: h.services,
        origin: null,
      };
      const p = await executeCapability(cap, { source: "rota" }, ctx);
      expect(p).toMatchObject({ status: "reported", reason_code: "calendar_sync_planned" });
      expect((p.data as { source: string }).source).toBe("rota");
      expect(JSON.stringify(p)).not.toContain("private-8f3a1c");
      expect(JSON.stringify(h.app.store.audit.all())).not.toContain("private-8f3a1c");
      expect(h.app.store.calendar.syncPlan((p.data as Plan).plan_id)).toMatchObject({ source_label: "rota" });
      h.app.store.secrets.put("rota-feed-url", `http://127.0.0.1:${port}/private-8f3a1c/gone.ics`, h.now);
      const gone = await h.run("calendar.sync.plan", { source: "rota" });
      expect(gone).toMatchObject({ status: "failed", reason_code: "calendar_source_unreadable" });
      expect(gone.text).not.toContain("private-8f3a1c");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
