/** @module Read-only views and diagnostics: provider/policy status, templates list, auth status and doctor (online probes). */
import { afterEach, describe, expect, it } from "vitest";
import { COMMS_SEND_CAPABILITIES } from "../../../src/capabilities/communications/index.ts";
import { createRegistry } from "../../../src/app/index.ts";
import { startResendServer } from "../../helpers/resend-server.ts";
import { startTwilioServer } from "../../helpers/twilio-server.ts";
import { auditRows, goLive, makeCommsHome, type CommsHome } from "./comms-home.ts";

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});
function home(...args: Parameters<typeof makeCommsHome>): CommsHome {
  const h = makeCommsHome(...args);
  open.push(h);
  return h;
}
const data = (r: { data?: unknown }) => r.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("registry", () => {
  it("registers every capability with its chat alias next to the core commands", () => {
    const r = createRegistry().register(...COMMS_SEND_CAPABILITIES);
    expect(COMMS_SEND_CAPABILITIES.map((c) => [c.id, c.alias.join(" "), c.role, c.approval])).toEqual([
      ["communications.send.preview", "send preview", "operator", "none"],
      ["communications.send.execute", "send execute", "operator", "confirm"],
      ["communications.provider.status", "provider status", "viewer", "none"],
      ["communications.policy.status", "policy status", "viewer", "none"],
      ["communications.templates.list", "templates list", "viewer", "none"],
      ["communications.delivery.log", "delivery log", "viewer", "none"],
      ["communications.delivery.anomaly.status", "delivery anomaly status", "viewer", "none"],
      ["communications.delivery.anomaly.dispatch", "delivery anomaly dispatch", "operator", "confirm"],
      ["communications.alerts.incident.bundle.create", "incident bundle", "operator", "none"],
      ["communications.alerts.incident.open", "incident open", "operator", "none"],
      ["communications.alerts.incident.note", "incident note", "operator", "none"],
      ["communications.alerts.incident.contain", "incident contain", "operator", "none"],
      ["communications.alerts.incident.verify", "incident verify", "operator", "none"],
      ["communications.alerts.incident.close", "incident close", "operator", "none"],
      ["communications.alerts.incident.list", "incident list", "viewer", "none"],
      ["communications.alerts.incident.show", "incident show", "viewer", "none"],
      ["communications.alerts.dispatcher.status", "alerts dispatcher status", "viewer", "none"],
      ["communications.alerts.dispatcher.start", "alerts dispatcher start", "operator", "none"],
      ["communications.alerts.dispatcher.stop", "alerts dispatcher stop", "operator", "confirm"],
      ["communications.alerts.deadletter.replay", "alerts deadletter replay", "operator", "confirm"],
      ["communications.auth.status", "auth status", "operator", "none"],
      ["communications.doctor", "doctor", "operator", "none"],
      ["communications.consent.set", "consent set", "operator", "confirm"],
    ]);
    expect(r.match(["delivery", "anomaly", "status"])?.capability.id).toBe("communications.delivery.anomaly.status");
    expect(r.match(["delivery", "log", "--limit"])?.capability.id).toBe("communications.delivery.log");
  });
});

describe("provider, policy and template views", () => {
  it("provider status shows routes, cutover and live-or-simulated", async () => {
    const h = home({ env: { RESEND_API_KEY: "re_test_123" }, edit: (c) => goLive(c, { resend: "http://127.0.0.1:9" }, "pilot") });
    const r = await h.run("communications.provider.status");
    expect(data(r).routes).toEqual([
      {
        channel: "email",
        provider: "resend",
        mode: "live",
        cutover_phase: "pilot",
        live: true,
        reason: "route_live",
        credentials: [
          { id: "resend-api-key", state: "present", source: "env" },
          { id: "resend-webhook-secret", state: "missing", source: null },
        ],
        ready_for_live: true,
      },
      {
        channel: "sms",
        provider: "twilio",
        mode: "simulation",
        cutover_phase: "shadow",
        live: false,
        reason: "route_simulated_provider_mode",
        credentials: [
          { id: "twilio-account-sid", state: "missing", source: null },
          { id: "twilio-auth-token", state: "missing", source: null },
        ],
        ready_for_live: false,
      },
    ]);
    expect(r.text).not.toContain("re_test_123");
  });

  it("policy status shows the rules and the registry counts", async () => {
    const h = home();
    h.app.store.comms.setConsent(
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_out", source: "twilio_webhook" },
      h.now,
    );
    const r = await h.run("communications.policy.status");
    expect(r.text).toContain("Quiet hours: 21:00–08:00 in the recipient's time zone (default America/New_York) on sms; exempt: alerts.");
    expect(data(r).registry).toEqual([{ channel: "sms", status: "opted_out", n: 1 }]);
  });

  it("templates list filters by channel", async () => {
    const h = home();
    const r = await h.run("communications.templates.list", { channel: "email" });
    expect(data(r).templates.map((t: { id: string }) => t.id)).toEqual(["order_shipped", "payment_receipt"]);
    expect(r.text).toContain("order_shipped (email, transactional): customer_name, order_number, tracking_number");
  });

  it("an invalid contract is an answer, not a crash", async () => {
    const h = home();
    h.editContracts((c) => (c.providers.routes.sms = "carrier-pigeon"));
    const r = await h.run("communications.provider.status");
    expect(r.status).toBe("failed");
    expect(r.reason_code).toBe("comms_contract_invalid");
    expect(r.text).toMatch(/providers\.yaml:\d+:\d+: routes\.sms: must be one of "twilio"/);
  });
});

describe("consent set", () => {
  it("records consent (source cli) and the time zone with a masked audit record; then the gates use them", async () => {
    const h = home();
    const r = await h.run("communications.consent.set", {
      recipient: "+61412345678",
      status: "opted_in",
      type: "marketing",
      timezone: "Australia/Sydney",
    });
    expect(r.text).toBe("Recorded sms consent for +6***5678: marketing opted_in (source cli); time zone Australia/Sydney.");
    expect(h.sql().prepare("SELECT recipient, channel, message_type, status, source FROM comms_consent").all()).toEqual([
      { recipient: "+61412345678", channel: "sms", message_type: "marketing", status: "opted_in", source: "cli" },
    ]);
    const audit = auditRows(h, "comms.consent.set")[0]!;
    expect(audit).toMatchObject({ action: "comms.consent.set", outcome: "opted_in" });
    expect(audit.args).not.toContain("412345678");
    // 15:00Z is 02:00 in Sydney: consent passes, quiet hours do not.
    const p = await h.run("communications.send.preview", {
      template: "spring_promo",
      to: "+61412345678",
      vars: JSON.stringify({ customer_name: "Ana", promo_code: "SPRING" }),
    });
    expect(data(p).decisions.map((d: { stage: string; reason: string }) => `${d.stage}:${d.reason}`)).toEqual([
      "recipient:recipient_valid",
      "template:template_rendered",
      "consent:consent_opted_in",
      "quiet_hours:quiet_hours_active",
      "sms_length:sms_segments_ok",
      "routing:route_simulated_stack_mode",
    ]);
    expect((await h.run("communications.consent.set", { recipient: "+61412345678", status: "opted_in", type: "promos" })).reason_code).toBe(
      "consent_message_type_unknown",
    );
    expect((await h.run("communications.consent.set", { recipient: "0412 345 678", status: "opted_in" })).reason_code).toBe(
      "recipient_invalid_phone",
    );
    expect(
      (await h.run("communications.consent.set", { recipient: "a@example.com", status: "opted_out", timezone: "Moon/Base" })).reason_code,
    ).toBe("recipient_invalid_timezone");
  });
});

describe("auth status", () => {
  it("shows present/missing and env or store, never the values", async () => {
    const h = home({ env: { RESEND_API_KEY: "re_live_secret_value_1" } });
    h.setSecret("twilio-auth-token", "tw_store_secret_value_2");
    const r = await h.run("communications.auth.status");
    expect(
      data(r).credentials.map((c: { provider: string; id: string; state: string; source: string | null }) => [
        c.provider,
        c.id,
        c.state,
        c.source,
      ]),
    ).toEqual([
      ["resend", "resend-api-key", "present", "env"],
      ["resend", "resend-webhook-secret", "missing", null],
      ["twilio", "twilio-account-sid", "missing", null],
      ["twilio", "twilio-auth-token", "present", "store"],
      ["imap", "imap-password", "missing", null],
      ["smtp", "smtp-password", "missing", null],
    ]);
    const all = JSON.stringify(r);
    expect(all).not.toContain("re_live_secret_value_1");
    expect(all).not.toContain("tw_store_secret_value_2");
    expect(r.text).toContain(
      "twilio twilio-account-sid: missing — send SMS (account); fix: export TWILIO_ACCOUNT_SID=… or `echo … | tau secrets set twilio-account-sid`",
    );
    const one = await h.run("communications.auth.status", { provider: "resend" });
    expect(data(one).credentials).toHaveLength(2);
  });
});

describe("doctor", () => {
  it("offline: passes in simulation with warnings for missing secrets and webhook setup", async () => {
    const h = home();
    const r = await h.run("communications.doctor");
    expect(r.reason_code).toBe("doctor_warnings");
    expect(data(r).checks.map((c: { check: string; status: string }) => `${c.check}:${c.status}`)).toEqual([
      "contracts:pass",
      "stack.mode:pass",
      "route.email:pass",
      "credentials.resend-api-key:warn",
      "route.sms:pass",
      "credentials.twilio-account-sid:warn",
      "credentials.twilio-auth-token:warn",
      "webhook.twilio:warn",
      "webhook.resend:warn",
      // No calendar.yaml in this home: calendars are optional, so the check passes.
      "calendar.contract:pass",
    ]);
  });

  it("--online probes Resend and Twilio at the configured API roots", async () => {
    const resend = await startResendServer();
    const twilio = await startTwilioServer();
    open.push(resend, twilio);
    const h = home({
      tauYaml: 'server:\n  public_url: "https://tau.example.com"\n',
      env: {
        RESEND_API_KEY: resend.apiKey,
        RESEND_WEBHOOK_SECRET: "whsec_AAAA",
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
      },
      edit: (c) => goLive(c, { resend: resend.url, twilio: twilio.url }),
    });
    const r = await h.run("communications.doctor", { online: true });
    expect(r.reason_code).toBe("doctor_ok");
    expect(
      data(r)
        .checks.filter((c: { check: string }) => c.check.startsWith("probe."))
        .map((c: { check: string; reason_code: string }) => [c.check, c.reason_code]),
    ).toEqual([
      ["probe.resend", "probe_ok"],
      ["probe.twilio", "probe_ok"],
    ]);
    expect(resend.requests.map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual([
      "GET /emails/00000000-0000-4000-8000-000000000000 404",
    ]);
    expect(twilio.requests.map((q) => `${q.method} ${q.status}`)).toEqual(["GET 404"]);
  });

  it("--online reports rejected credentials with what to fix", async () => {
    const resend = await startResendServer();
    const twilio = await startTwilioServer();
    open.push(resend, twilio);
    const h = home({
      env: { RESEND_API_KEY: "re_wrong", TWILIO_ACCOUNT_SID: twilio.accountSid, TWILIO_AUTH_TOKEN: "wrong-token" },
      edit: (c) => goLive(c, { resend: resend.url, twilio: twilio.url }),
    });
    const r = await h.run("communications.doctor", { online: true });
    expect(r.status).toBe("failed");
    const probes = data(r).checks.filter((c: { check: string }) => c.check.startsWith("probe."));
    expect(probes.map((c: { reason_code: string; fix: string }) => [c.reason_code, c.fix])).toEqual([
      ["probe_online_resend_auth_failed", "check the resend credentials"],
      ["probe_online_twilio_auth_failed", "check the twilio credentials"],
    ]);
    expect(JSON.stringify(r)).not.toContain("wrong-token");
  });
});
