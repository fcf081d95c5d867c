/** @module The calendar contract: the checked-in example loads; it is optional; bad files name file, line and field. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadCalendarContract } from "../../../src/capabilities/calendar/contract.ts";
import { ConfigError } from "../../../src/contracts/errors.ts";

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../policies/communications");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A folder holding the example with `replace` applied. */
function copy(replace?: [string | RegExp, string]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-cal-"));
  dirs.push(dir);
  const text = fs.readFileSync(path.join(EXAMPLES, "calendar.yaml"), "utf8");
  const next = replace ? text.replace(replace[0], replace[1]) : text;
  if (replace && next === text) throw new Error(`test setup: ${String(replace[0])} not found`);
  fs.writeFileSync(path.join(dir, "calendar.yaml"), next);
  return dir;
}

function errorOf(dir: string): ConfigError {
  try {
    loadCalendarContract(dir);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadCalendarContract", () => {
  it("loads the checked-in example", () => {
    const c = loadCalendarContract(EXAMPLES)!;
    expect(c.caldav).toEqual({
      url: "http://127.0.0.1:5232/",
      user: "ops",
      password_secret: "caldav-password",
      calendar: "spine-ops",
      time_zone: "Europe/Berlin",
      timeout_ms: 10000,
      max_staleness_seconds: 60,
    });
    expect(c.carddav).toEqual({ addressbook: "contacts", url: null });
    expect(c.sync.sources).toEqual({ rota: { url_secret: "rota-feed-url" } });
    expect("On-call: Ana".match(new RegExp(c.oncall.summary_pattern, "i"))?.groups?.who).toBe("Ana");
  });

  it("is optional: no file, or a file of comments only (what tau init writes), is no contract", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-cal-"));
    dirs.push(dir);
    expect(loadCalendarContract(dir)).toBeNull();
    const commented = fs
      .readFileSync(path.join(EXAMPLES, "calendar.yaml"), "utf8")
      .split("\n")
      .map((l) => (l.trim() === "" ? l : `# ${l}`))
      .join("\n");
    fs.writeFileSync(path.join(dir, "calendar.yaml"), commented);
    expect(loadCalendarContract(dir)).toBeNull();
  });

  it("fills defaults for the optional sections", () => {
    const dir = copy([/\ncarddav:[\s\S]*$/, "\n"]);
    const c = loadCalendarContract(dir)!;
    expect(c.carddav).toBeNull();
    expect(c.oncall.summary_pattern).toBe("on[- ]?call");
    expect(c.sync).toEqual({
      sources: {},
      file_root: "calendar-sources",
      allow_http_hosts: [],
      max_source_bytes: 5242880,
      plan_ttl_minutes: 15,
    });
  });

  it("names file, line and field for bad values", () => {
    const cases: [[string | RegExp, string], string][] = [
      [["time_zone: Europe/Berlin", "time_zone: Mars/Olympus"], ":12:14: caldav.time_zone: an IANA time zone such as Europe/Berlin"],
      [
        ["url: http://127.0.0.1:5232/", "url: http://ops:pw@127.0.0.1:5232/"],
        ":8:8: caldav.url: no user or password in the URL: use user and password_secret",
      ],
      [
        ["password_secret: caldav-password", "password_secret: Caldav Password"],
        ":10:20: caldav.password_secret: an integration secret id such as caldav-password",
      ],
      [["  user: ops\n", "  user: ops\n  pasword: x\n"], ':10:3: unknown key "caldav.pasword" (remove it or check its spelling)'],
      [
        ['summary_pattern: "^on[- ]?call:?\\\\s*(?<who>.*)$"', 'summary_pattern: "(unclosed"'],
        ":22:20: oncall.summary_pattern: a regular expression",
      ],
      [
        ["rota: { url_secret: rota-feed-url }", "rota: { url: https://x.example/a.ics, file: a.ics }"],
        ":28:11: sync.sources.rota: give exactly one of file, url, url_secret",
      ],
    ];
    for (const [replace, message] of cases) {
      const e = errorOf(copy(replace));
      expect(e.message.startsWith(path.join(dirs.at(-1)!, "calendar.yaml"))).toBe(true);
      expect(e.message).toContain(message);
    }
  });
});
