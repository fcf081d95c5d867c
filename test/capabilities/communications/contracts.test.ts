/** @module The communications contracts: checked-in examples load in simulation mode; bad files name file, line and field. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadCommsContracts } from "../../../src/capabilities/communications/index.ts";
import { ConfigError } from "../../../src/contracts/errors.ts";

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../policies/communications");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the examples with `replace` applied to one file's text. */
function copy(file?: string, replace?: [string | RegExp, string]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-comms-"));
  dirs.push(dir);
  for (const f of fs.readdirSync(EXAMPLES)) if (f.endsWith(".yaml")) fs.copyFileSync(path.join(EXAMPLES, f), path.join(dir, f));
  if (file && replace) {
    const p = path.join(dir, file);
    const text = fs.readFileSync(p, "utf8");
    const next = text.replace(replace[0], replace[1]);
    if (next === text) throw new Error(`test setup: ${String(replace[0])} not found in ${file}`);
    fs.writeFileSync(p, next);
  }
  return dir;
}

function errorOf(dir: string): ConfigError {
  try {
    loadCommsContracts(dir);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadCommsContracts", () => {
  it("loads the checked-in examples, all in simulation", () => {
    const c = loadCommsContracts(EXAMPLES);
    expect(c.stack.mode).toBe("simulation");
    expect(c.providers.providers.resend).toMatchObject({ mode: "simulation", cutover_phase: "shadow", api_root: "https://api.resend.com" });
    expect(c.providers.providers.twilio).toMatchObject({
      mode: "simulation",
      cutover_phase: "shadow",
      from: "+15005550006",
      messaging_service_sid: null,
    });
    expect(c.stack.mailboxes.map((m) => [m.id, m.role])).toEqual([
      ["ops", "ops"],
      ["alerts", "alerts"],
      ["noreply", "noreply"],
    ]);
    expect(c.stack.catalog[0]).toEqual({
      id: "sim-0001",
      mailbox: "ops",
      from: "Billing <billing@vendor.example.net>",
      to: "ops@spine.example.com",
      subject: "Invoice 30020 for February",
      date: "2026-02-20T09:14:00Z",
      snippet: "Please find attached invoice 30020, due March 6.",
    });
    expect(c.policy.consent).toEqual({
      transactional: { required: "not_required" },
      alerts: { required: "opt_in" },
      marketing: { required: "opt_in" },
    });
    expect(c.policy.quiet_hours).toEqual({ start: "21:00", end: "08:00", channels: ["sms"], exempt_message_types: ["alerts"] });
    expect(Object.keys(c.templates.templates)).toEqual([
      "payment_needed",
      "order_ready",
      "spring_promo",
      "ops_alert_sms",
      "order_shipped",
      "payment_receipt",
    ]);
    expect(c.delivery.alerts.target).toEqual({ transport: "telegram", account_id: "6112", conversation_id: "-1001234", thread_id: null });
    expect(c.files.stack.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names file, line, column and field for a bad enum", () => {
    const e = errorOf(
      copy("providers.yaml", [
        '    mode: simulation\n    cutover_phase: shadow\n    from: "Spine',
        '    mode: livee\n    cutover_phase: shadow\n    from: "Spine',
      ]),
    );
    expect(e.message).toMatch(
      /providers\.yaml:13:11: providers\.resend\.mode: must be one of "simulation", "live" \(did you mean "live"\?\)$/,
    );
    expect(e.details).toMatchObject({ line: 13, field: "providers.resend.mode" });
  });

  it("points at an unknown key", () => {
    const e = errorOf(copy("delivery.yaml", ["  cooldown_minutes: 30", "  cooldown_minutes: 30\n  cooldown_mins: 5"]));
    expect(e.message).toMatch(/delivery\.yaml:\d+:3: unknown key "alerts\.cooldown_mins"/);
  });

  it("checks templates against the message types policy.yaml declares, at the template's line", () => {
    const e = errorOf(copy("templates.yaml", ["    message_type: marketing", "    message_type: promo"]));
    expect(e.message).toMatch(
      /templates\.yaml:\d+:19: templates\.spring_promo\.message_type: unknown message type "promo" \(policy\.yaml consent declares transactional, alerts, marketing\)/,
    );
  });

  it("refuses undeclared placeholders, bad time zones, bad quiet hours and a Twilio sender that is not E.164", () => {
    expect(errorOf(copy("templates.yaml", ["[tau] {{summary}}", "[tau] {{summary}} {{host}}"])).message).toContain(
      "placeholder {{host}} is not declared in required or optional",
    );
    expect(errorOf(copy("policy.yaml", ["America/New_York", "America/Gotham"])).message).toMatch(
      /policy\.yaml:5:19: default_timezone: an IANA time zone/,
    );
    expect(errorOf(copy("policy.yaml", ['start: "21:00"', 'start: "9pm"'])).message).toContain("quiet_hours.start: HH:MM, 24 h");
    expect(errorOf(copy("providers.yaml", ['from: "+15005550006"', 'from: "5005550006"'])).message).toContain(
      "providers.twilio.from: an E.164 number",
    );
    expect(errorOf(copy("stack.yaml", ["    mailbox: alerts", "    mailbox: billing"])).message).toContain(
      'catalog.1.mailbox: unknown mailbox "billing"',
    );
  });

  it("accepts JSON under the same name, and says which file is missing", () => {
    const dir = copy();
    const yaml = loadCommsContracts(dir).delivery;
    fs.rmSync(path.join(dir, "delivery.yaml"));
    expect(errorOf(dir).message).toBe(`${path.join(dir, "delivery.yaml")}: missing communications contract`);
    fs.writeFileSync(
      path.join(dir, "delivery.json"),
      JSON.stringify({
        anomaly: { thresholds: {} },
        alerts: { target: { transport: "telegram", account_id: "6112", conversation_id: "-1001234" } },
      }),
    );
    const json = loadCommsContracts(dir);
    expect(json.delivery).toEqual({ ...yaml, schema_version: 1 });
    expect(json.files.delivery.path).toBe(path.join(dir, "delivery.json"));
  });
});
