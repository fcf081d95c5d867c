/**
 * @module Calendar writes are `confirm`: from chat (runner → approval request → `/tau approve`) and from an agent's tool
 * call they never run before an operator approves, and the calendar on the real Radicale is unchanged until then.
 * Every calendar capability's arguments also convert to a tool JSON Schema.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAppRunner, openIngressWriter } from "../../../src/app/index.ts";
import { createRegistry } from "../../../src/app/registry.ts";
import { runToolCall, toolSpecsFor } from "../../../src/responders/llm/tools.ts";
import { makeDm } from "../../helpers/envelope-factory.ts";
import { radicaleSkipReason, startRadicale, type RadicaleHandle } from "../../helpers/radicale.ts";
import { ics, makeCalendarHome, vevent, type CalendarHome } from "./calendar-home.ts";

const CALENDAR_IDS = [
  "calendar.caldav.status",
  "calendar.events.list",
  "calendar.oncall",
  "calendar.events.create",
  "calendar.events.update",
  "calendar.events.delete",
  "calendar.sync.plan",
  "calendar.sync.execute",
  "contacts.search",
];

describe("calendar capabilities in the registry", () => {
  it("declare roles and approvals: reads for viewers, writes for operators under confirm", () => {
    const reg = createRegistry();
    expect(CALENDAR_IDS.map((id) => [id, reg.get(id)?.role, reg.get(id)?.approval, reg.get(id)?.alias.join(" ")])).toEqual([
      ["calendar.caldav.status", "viewer", "none", "calendar status"],
      ["calendar.events.list", "viewer", "none", "calendar"],
      ["calendar.oncall", "viewer", "none", "oncall"],
      ["calendar.events.create", "operator", "confirm", "calendar create"],
      ["calendar.events.update", "operator", "confirm", "calendar update"],
      ["calendar.events.delete", "operator", "confirm", "calendar delete"],
      ["calendar.sync.plan", "operator", "none", "calendar sync plan"],
      ["calendar.sync.execute", "operator", "confirm", "calendar sync execute"],
      ["contacts.search", "operator", "none", "contacts search"],
    ]);
  });

  it("convert to tool JSON Schemas (what a responder's tools: list offers the model)", () => {
    const reg = createRegistry();
    const specs = toolSpecsFor(CALENDAR_IDS, (id) => reg.get(id));
    expect(specs.map((s) => s.name)).toEqual(CALENDAR_IDS.map((id) => id.replace(/\./g, "_")));
    const create = specs.find((s) => s.name === "calendar_events_create")!.parameters as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(create.properties)).toEqual([
      "summary",
      "start",
      "end",
      "duration",
      "time_zone",
      "location",
      "description",
      "rrule",
      "uid",
      "calendar",
    ]);
    expect(create.required).toEqual(["summary", "start"]);
    for (const id of CALENDAR_IDS) expect(() => z.toJSONSchema(reg.get(id)!.args as z.ZodType, { io: "input" })).not.toThrow();
  });
});

const skip = radicaleSkipReason();
if (skip) console.warn(`test/capabilities/calendar/approvals.test.ts: ${skip}`);

let rad: RadicaleHandle;
const homes: CalendarHome[] = [];
const dbs: Database.Database[] = [];
beforeAll(async () => {
  if (skip) return;
  rad = await startRadicale();
  await rad.request(rad.users[0]!, "PROPFIND", "/ops/", undefined, { depth: "0" });
});
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
  for (const h of homes.splice(0)) h.close();
});
afterAll(async () => rad?.close());

let seq = 0;
async function setup(): Promise<{ h: CalendarHome; cal: string; sql: () => Database.Database }> {
  const name = `appr-${++seq}`;
  await rad.mkcalendar(rad.users[0]!, name);
  const h = makeCalendarHome({ radicale: rad, calendar: name });
  homes.push(h);
  h.app.store.access.addAllowlist({
    actor_key: "telegram:4242",
    transport: "telegram",
    actor_id: "4242",
    note: "ops",
    added_by: "cli:test",
    added_at_ms: h.now,
  });
  let db: Database.Database | null = null;
  const sql = () => {
    if (!db) {
      db = new Database(path.join(h.home.stateDir, "tau.db"), { fileMustExist: true });
      dbs.push(db);
    }
    return db;
  };
  return { h, cal: `/ops/${name}/`, sql };
}

let eventSeq = 0;
async function say(h: CalendarHome, text: string): Promise<string> {
  const id = `telegram:6112:u:${++eventSeq}`;
  const w = openIngressWriter(h.app);
  await w.append("telegram", [makeDm("4242", { event_id: id, text, meta: { message_id: eventSeq } })]);
  await w.close();
  const { runner, close } = createAppRunner(h.app, { services: h.services });
  try {
    await runner.drain();
  } finally {
    close();
  }
  return id;
}

const jobResult = (sql: () => Database.Database, eventId: string) => {
  const raw = sql().prepare("SELECT result FROM jobs WHERE event_id = ?").pluck().get(eventId) as string | undefined;
  return raw ? (JSON.parse(raw) as { status: string; reason_code: string }) : null;
};
const pending = (sql: () => Database.Database) =>
  sql().prepare("SELECT id, capability_id, args_hash, status FROM approvals ORDER BY created_at_ms, rowid").all() as {
    id: string;
    capability_id: string;
    args_hash: string;
    status: string;
  }[];
const objectsOn = async (calPath: string) => {
  const r = await rad.request(rad.users[0]!, "PROPFIND", calPath, undefined, { depth: "1" });
  return [...(await r.text()).matchAll(/<href>([^<]+\.ics)<\/href>/g)].map((m) => decodeURIComponent(m[1]!.split("/").pop()!));
};

describe.skipIf(skip)("calendar writes need approval (Radicale)", () => {
  it("from chat: create, update, delete and sync execute wait for /tau approve; nothing reaches the server before", async () => {
    const { h, cal, sql } = await setup();
    await say(h, "/tau calendar create Deploy window --start 2026-12-08T10:00 --uid deploy-1");
    expect(pending(sql).map((a) => [a.capability_id, a.status])).toEqual([["calendar.events.create", "pending"]]);
    expect(await objectsOn(cal)).toEqual([]);
    const create = pending(sql)[0]!;
    const approved = await say(h, `/tau approve ${create.id} ${create.args_hash.slice(0, 8)}`);
    expect(jobResult(sql, approved)).toMatchObject({ status: "reported", reason_code: "calendar_event_created" });
    expect(await objectsOn(cal)).toEqual(["deploy-1.ics"]);

    await say(h, `/tau calendar update deploy-1 --summary "Deploy window (moved)"`);
    await say(h, "/tau calendar delete deploy-1");
    expect(
      pending(sql)
        .slice(1)
        .map((a) => [a.capability_id, a.status]),
    ).toEqual([
      ["calendar.events.update", "pending"],
      ["calendar.events.delete", "pending"],
    ]);
    const raw = await (await rad.request(rad.users[0]!, "GET", `${cal}deploy-1.ics`)).text();
    expect(raw).toContain("SUMMARY:Deploy window");
    expect(raw).not.toContain("moved");

    // A plan is only a read (no approval); executing it is another approval.
    fs.mkdirSync(path.join(h.commsDir, "calendar-sources"));
    fs.writeFileSync(
      path.join(h.commsDir, "calendar-sources", "feed.ics"),
      ics([vevent("feed-1", "DTSTART:20261209T080000Z", "SUMMARY:from feed")]),
    );
    const planned = await h.run("calendar.sync.plan", { source: "feed.ics" });
    expect(planned.reason_code).toBe("calendar_sync_planned");
    await say(h, `/tau calendar sync execute ${(planned.data as { plan_id: string }).plan_id}`);
    expect(pending(sql).at(-1)).toMatchObject({ capability_id: "calendar.sync.execute", status: "pending" });
    expect(await objectsOn(cal)).toEqual(["deploy-1.ics"]);

    const del = pending(sql).find((a) => a.capability_id === "calendar.events.delete")!;
    const done = await say(h, `/tau approve ${del.id}`);
    expect(jobResult(sql, done)).toMatchObject({ status: "reported", reason_code: "calendar_event_deleted" });
    expect(await objectsOn(cal)).toEqual([]);
  });

  it("from an agent: a tool call to a confirm capability asks the user and does not run", async () => {
    const { h, cal, sql } = await setup();
    await rad.put(rad.users[0]!, cal, "keep.ics", ics([vevent("keep", "DTSTART:20261209T080000Z", "SUMMARY:keep me")]));
    const out = await runToolCall(
      { id: "call-1", name: "calendar_events_delete", argumentsJson: JSON.stringify({ uid: "keep" }) },
      ["calendar.events.list", "calendar.events.delete"],
      {
        principal: "telegram:4242",
        role: "operator",
        origin: { transport: "telegram", conversation_id: "4242" },
        replyTarget: JSON.stringify({ transport: "telegram", conversation_id: "4242" }),
        responder: "assistant",
        model: "test-model",
        jobId: "job-1",
      },
      h.services,
      h.now,
    );
    expect(out.reason).toBe("approval_requested");
    expect(JSON.parse(out.content)).toMatchObject({ status: "approval_pending" });
    expect(pending(sql).map((a) => [a.capability_id, a.status])).toEqual([["calendar.events.delete", "pending"]]);
    expect(await objectsOn(cal)).toEqual(["keep.ics"]);
  });
});
