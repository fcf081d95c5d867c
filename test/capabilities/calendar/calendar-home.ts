/**
 * @module Test fixture for the calendar capabilities: a temp tau home whose `policies/communications/calendar.yaml`
 * points at a real Radicale, an app on a settable clock, services over the full registry, a CLI-style runner, and
 * small iCalendar builders for what "another client" writes into the calendar.
 */
import fs from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import type { CapabilityContext, CapabilityResult } from "../../../src/capabilities/capability.ts";
import type { Services } from "../../../src/capabilities/services.ts";
import { createRegistry, createServices, openApp, type App } from "../../../src/app/index.ts";
import { makeTauHome, type TauHome } from "../../helpers/tau-home.ts";
import type { RadicaleHandle } from "../../helpers/radicale.ts";

/** Sunday 2026-12-06 10:00 UTC (11:00 in Berlin): "today" in the issue. */
export const NOW = Date.parse("2026-12-06T10:00:00Z");

export interface CalendarHome {
  home: TauHome;
  app: App;
  services: Services;
  now: number;
  commsDir: string;
  /** Rewrite calendar.yaml with `edit` applied to the current document. */
  editContract(edit: (c: Record<string, any>) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Parse raw arguments with the capability's schema and run it (no approval step: what `tau cap run --yes` does). */
  run(id: string, raw?: Record<string, unknown>, opts?: { principal?: string; surface?: "cli" | "chat" }): Promise<CapabilityResult>;
  close(): void;
}

export interface CalendarHomeOptions {
  radicale: Pick<RadicaleHandle, "url">;
  user?: string;
  /** The password tau is given (default: the right one, "secret"). */
  password?: string | null;
  calendar?: string;
  timeZone?: string;
  carddav?: Record<string, unknown> | null;
  extra?: Record<string, unknown>;
  now?: number;
  tauYaml?: string;
}

export function makeCalendarHome(o: CalendarHomeOptions): CalendarHome {
  const home = makeTauHome(`runner:\n  coalesce_window_ms: 0\n${o.tauYaml ?? ""}`);
  const commsDir = path.join(home.dir, "policies", "communications");
  fs.mkdirSync(commsDir, { recursive: true });
  const file = path.join(commsDir, "calendar.yaml");
  const doc: Record<string, unknown> = {
    schema_version: 1,
    caldav: {
      url: o.radicale.url,
      user: o.user ?? "ops",
      password_secret: "caldav-password",
      calendar: o.calendar ?? "spine-ops",
      time_zone: o.timeZone ?? "Europe/Berlin",
      timeout_ms: 5000,
      max_staleness_seconds: 60,
    },
    ...(o.carddav === null ? {} : { carddav: o.carddav ?? { addressbook: "contacts" } }),
    ...o.extra,
  };
  fs.writeFileSync(file, stringify(doc));
  const h: CalendarHome = {
    home,
    commsDir,
    now: o.now ?? NOW,
    app: undefined as unknown as App,
    services: undefined as unknown as Services,
    editContract(edit) {
      edit(doc);
      fs.writeFileSync(file, stringify(doc));
    },
    async run(id, raw = {}, opts = {}) {
      const cap = h.services.registry.get(id);
      if (!cap) throw new Error(`no capability ${id}`);
      const args = cap.args.parse(raw) as Record<string, unknown>;
      const ctx: CapabilityContext = {
        principal: opts.principal ?? "cli:tester",
        role: "admin",
        surface: opts.surface ?? "cli",
        now: h.now,
        services: h.services,
        origin: null,
      };
      return cap.run(args, ctx);
    },
    close() {
      h.app.close();
      home.cleanup();
    },
  };
  h.app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: {}, clock: () => h.now });
  h.services = createServices(h.app, createRegistry());
  if (o.password !== null) h.app.store.secrets.put("caldav-password", o.password ?? "secret", h.now);
  return h;
}

/** A VCALENDAR around `vevents` (and optional VTIMEZONE blocks), CRLF line ends as RFC 5545 asks. */
export function ics(vevents: string[], zones: string[] = []): string {
  return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tau tests//EN", ...zones, ...vevents, "END:VCALENDAR", ""].join("\r\n");
}

/** A VEVENT from property lines (UID and DTSTAMP added). */
export function vevent(uid: string, ...props: string[]): string {
  return ["BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20261101T000000Z", ...props, "END:VEVENT"].join("\r\n");
}

/** The Europe/Berlin VTIMEZONE most clients embed. */
export const BERLIN_VTIMEZONE = [
  "BEGIN:VTIMEZONE",
  "TZID:Europe/Berlin",
  "BEGIN:DAYLIGHT",
  "TZOFFSETFROM:+0100",
  "TZOFFSETTO:+0200",
  "TZNAME:CEST",
  "DTSTART:19700329T020000",
  "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
  "END:DAYLIGHT",
  "BEGIN:STANDARD",
  "TZOFFSETFROM:+0200",
  "TZOFFSETTO:+0100",
  "TZNAME:CET",
  "DTSTART:19701025T030000",
  "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
  "END:STANDARD",
  "END:VTIMEZONE",
].join("\r\n");
