/**
 * @module Calendar benchmark on a local Radicale (test/helpers; dev tooling only): a 10,000-event calendar (a year of
 * single events in UTC plus 2 % weekly and weekday series in Europe/Berlin with EXDATEs and overrides), uploaded in
 * one PUT. (Singles are in UTC because Radicale takes ~80 ms to store each zoned event; tau's cost is the same.)
 *   copy      — the first `calendar.events.list`: discovery, getctag + sync-token, one calendar-query of every object,
 *               each parsed and indexed by span in SQLite.
 *   week      — `calendar.events.list` for a one-week window (random weeks of the year) within max_staleness_seconds:
 *               contract load, span query, parse + expansion of the overlapping objects, rendering. The target.
 *   week+ctag — the same with max_staleness_seconds 0: a getctag PROPFIND first (the server's cost, ctag unchanged).
 *   one edit  — another client changes one event; the next listing with revalidation (ctag moved → sync-collection
 *               → multiget of one object).
 *   server    — for comparison, the server filtering the same weeks itself (calendar-query with a time-range).
 * Usage: tsx scripts/bench-calendar.ts [--events N] [--runs N] → a table, then one JSON line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import type { CapabilityContext, CapabilityResult } from "../src/capabilities/capability.ts";
import { createRegistry, createServices, openApp } from "../src/app/index.ts";
import { startRadicale } from "../test/helpers/radicale.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg("--events", 10_000);
const RUNS = arg("--runs", 200);
const TZ = "Europe/Berlin";
const YEAR_START = Date.parse("2026-06-01T00:00:00Z");

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(quantile(s, 0.5)), p99: r(quantile(s, 0.99)), max: r(s.at(-1)!) };
}

/** Deterministic pseudo-random numbers (the same calendar every run). */
function rng(seed: number) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const pad = (n: number) => String(n).padStart(2, "0");
const local = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}00`;
};

/** One VCALENDAR holding `n` events: 98 % single events (UTC) on working hours over a year, 2 % zoned series. */
function bigCalendar(n: number): string {
  const rand = rng(16);
  const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tau bench//EN"];
  const series = Math.max(1, Math.round(n * 0.02));
  for (let i = 0; i < n; i++) {
    const uid = `bench-${i}@tau`;
    const day = Math.floor(rand() * 365);
    const slot = 8 * 60 + Math.floor(rand() * 18) * 30;
    const start = YEAR_START + day * 86_400_000 + slot * 60_000;
    const base = ["BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20260101T000000Z"];
    if (i < series) {
      base.push(`DTSTART;TZID=${TZ}:${local(start)}`);
      const weekly = i % 2 === 0;
      lines.push(
        ...base,
        `DTEND;TZID=${TZ}:${local(start + 30 * 60_000)}`,
        weekly ? "RRULE:FREQ=WEEKLY" : "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        `EXDATE;TZID=${TZ}:${local(start + 7 * 86_400_000)}`,
        `SUMMARY:${weekly ? "On-call" : "Standup"} ${i}`,
        "END:VEVENT",
        "BEGIN:VEVENT",
        `UID:${uid}`,
        "DTSTAMP:20260101T000000Z",
        `RECURRENCE-ID;TZID=${TZ}:${local(start + 14 * 86_400_000)}`,
        `DTSTART;TZID=${TZ}:${local(start + 14 * 86_400_000 + 3_600_000)}`,
        `DTEND;TZID=${TZ}:${local(start + 14 * 86_400_000 + 5_400_000)}`,
        `SUMMARY:moved ${i}`,
        "END:VEVENT",
      );
    } else
      lines.push(
        ...base,
        `DTSTART:${local(start - 3_600_000)}Z`,
        `DURATION:PT${30 + Math.floor(rand() * 4) * 15}M`,
        `SUMMARY:Event ${i}`,
        "LOCATION:ops room",
        "END:VEVENT",
      );
  }
  lines.push("END:VCALENDAR", "");
  return lines.join("\r\n");
}

const week = (i: number) => {
  const from = YEAR_START + 7 * 86_400_000 * (i % 50);
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return { from: iso(from), to: iso(from + 6 * 86_400_000) };
};

async function main(): Promise<void> {
  const shm = fs.existsSync("/dev/shm") ? "/dev/shm" : undefined;
  const rad = await startRadicale({ baseDir: shm });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-cal-"));
  try {
    const ops = rad.users[0]!;
    await rad.request(ops, "PROPFIND", "/ops/", undefined, { depth: "0" });
    const calUrl = await rad.mkcalendar(ops, "bench");
    let t = performance.now();
    const up = await rad.request(ops, "PUT", "/ops/bench/", bigCalendar(EVENTS), { "content-type": "text/calendar" });
    if (up.status !== 201 && up.status !== 204) throw new Error(`upload: HTTP ${up.status}`);
    const uploadMs = performance.now() - t;

    fs.mkdirSync(path.join(dir, "policies", "communications"), { recursive: true });
    const contract = (staleness: number) =>
      fs.writeFileSync(
        path.join(dir, "policies", "communications", "calendar.yaml"),
        stringify({
          schema_version: 1,
          caldav: { url: rad.url, user: "ops", calendar: "bench", time_zone: TZ, timeout_ms: 60_000, max_staleness_seconds: staleness },
        }),
      );
    contract(3600);
    fs.writeFileSync(path.join(dir, "tau.yaml"), "schema_version: 1\nlog: { level: silent }\n");
    let now = Date.parse("2026-12-06T10:00:00Z");
    const app = openApp({ stateDir: path.join(dir, "state"), configPath: path.join(dir, "tau.yaml"), env: {}, clock: () => now });
    app.store.secrets.put("caldav-password", ops.pass, now);
    const services = createServices(app, createRegistry());
    const cap = services.registry.get("calendar.events.list")!;
    const list = async (raw: Record<string, unknown>): Promise<CapabilityResult> => {
      const ctx: CapabilityContext = { principal: "cli:bench", role: "admin", surface: "cli", now, services, origin: null };
      const r = await cap.run(cap.args.parse(raw), ctx);
      if (r.status !== "reported") throw new Error(`${r.reason_code}: ${r.text}`);
      return r;
    };

    t = performance.now();
    const first = await list({ from: "2026-06-01", to: "2026-06-07" });
    const copyMs = performance.now() - t;
    const copied = (first.data as { copy: { objects: number } }).copy.objects;

    const weekMs: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      t = performance.now();
      const r = await list(week(i));
      weekMs.push(performance.now() - t);
      counts.push((r.data as { total: number }).total);
    }

    contract(0);
    const ctagMs: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 30); i++) {
      now += 1000;
      t = performance.now();
      await list(week(i));
      ctagMs.push(performance.now() - t);
    }

    await rad.put(
      ops,
      "/ops/bench/",
      "edited.ics",
      [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        "UID:bench-edit@tau",
        "DTSTAMP:20260101T000000Z",
        `DTSTART;TZID=${TZ}:20260624T100000`,
        "DURATION:PT1H",
        "SUMMARY:edited",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
      ].join("\r\n"),
    );
    now += 1000;
    t = performance.now();
    const inc = await list(week(3));
    const incMs = performance.now() - t;
    const how = (inc.data as { copy: { how: string } }).copy.how;

    const serverMs: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 20); i++) {
      const w = week(i);
      const body = `<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="${w.from.replace(/-/g, "")}T000000Z" end="${w.to.replace(/-/g, "")}T235959Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`;
      t = performance.now();
      const r = await rad.request(ops, "REPORT", new URL(calUrl).pathname, body, { depth: "1", "content-type": "application/xml" });
      await r.text();
      serverMs.push(performance.now() - t);
    }
    app.close();

    const s = { week: summary(weekMs), ctag: summary(ctagMs), server: summary(serverMs) };
    const avg = Math.round(counts.reduce((a, b) => a + b, 0) / counts.length);
    console.log(
      `calendar: ${EVENTS} events (${copied} objects) on Radicale ${shm ? "(storage on /dev/shm)" : ""}; one-week windows, ~${avg} occurrences each`,
    );
    console.log("measure                                   n     p50 ms   p99 ms   max ms");
    const row = (name: string, x: ReturnType<typeof summary>) =>
      console.log(
        `${name.padEnd(40)} ${String(x.n).padStart(4)} ${String(x.p50).padStart(9)} ${String(x.p99).padStart(8)} ${String(x.max).padStart(8)}`,
      );
    row("list one week (tau's copy fresh)", s.week);
    row("list one week + getctag (staleness 0)", s.ctag);
    row("server time-range REPORT (comparison)", s.server);
    console.log(
      `upload ${Math.round(uploadMs)} ms; first copy (discovery + full calendar-query + index) ${Math.round(copyMs)} ms; one edit then list: ${Math.round(incMs)} ms (${how})`,
    );
    console.log(
      JSON.stringify({
        events: EVENTS,
        objects: copied,
        occurrences_per_week: avg,
        list_week_ms: s.week,
        list_week_with_ctag_ms: s.ctag,
        server_time_range_ms: s.server,
        first_copy_ms: Math.round(copyMs),
        edit_then_list_ms: Math.round(incMs),
        edit_refresh: how,
        upload_ms: Math.round(uploadMs),
      }),
    );
  } finally {
    await rad.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
