/** @module preview → execute under policy: simulation and live (real SDKs against the local Resend and Twilio servers). */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runCapabilityCli } from "../../../src/cli/run-capability.ts";
import { buildArgs } from "../../../src/capabilities/args.ts";
import { startResendServer, type ResendServerHandle } from "../../helpers/resend-server.ts";
import { startTwilioServer, type TwilioServerHandle } from "../../helpers/twilio-server.ts";
import { auditRows, deliveryRows, goLive, makeCommsHome, PAYMENT_VARS, pick, SHIPPED_VARS, type CommsHome } from "./comms-home.ts";

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});
function home(...args: Parameters<typeof makeCommsHome>): CommsHome {
  const h = makeCommsHome(...args);
  open.push(h);
  return h;
}
async function resend(): Promise<ResendServerHandle> {
  const s = await startResendServer();
  open.push(s);
  return s;
}
async function twilioServer(): Promise<TwilioServerHandle> {
  const s = await startTwilioServer();
  open.push(s);
  return s;
}
const data = (r: { data?: unknown }) => r.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("send preview → execute in simulation", () => {
  it("renders with the STOP footer, stores the preview, and records one simulated delivery", async () => {
    const h = home();
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    expect(p.status).toBe("reported");
    expect(p.reason_code).toBe("preview_ready");
    const d = data(p);
    expect(d.preview_id).toMatch(/^pv_[0-9a-f]{16}$/);
    expect(d.body).toBe("Hi Ana, order #30020 has a balance of $150.00. Pay here: https://example.com/pay\nReply STOP to opt out.");
    expect(d.segments).toEqual({ encoding: "GSM-7", units: 103, segments: 1, unitsPerSegment: 160 });
    expect(d.recipient).toBe("+1***4567");
    expect(d.routing).toMatchObject({ provider: "twilio", live: false, reason: "route_simulated_stack_mode" });

    const e = await h.run("communications.send.execute", { preview_id: d.preview_id });
    expect(e.status).toBe("reported");
    expect(e.reason_code).toBe("delivery_simulated");
    const rows = pick(
      deliveryRows(h),
      "preview_id",
      "channel",
      "provider",
      "live",
      "status",
      "reason_code",
      "recipient_masked",
      "attempts",
    );
    expect(rows).toEqual([
      {
        preview_id: d.preview_id,
        channel: "sms",
        provider: "twilio",
        live: 0,
        status: "simulated",
        reason_code: "delivery_simulated",
        recipient_masked: "+1***4567",
        attempts: 1,
      },
    ]);
    // The delivery log never holds the address.
    expect(JSON.stringify(deliveryRows(h))).not.toContain("5551234567");

    const again = await h.run("communications.send.execute", { preview_id: d.preview_id });
    expect(again.reason_code).toBe("preview_already_sent");
  });

  it("accepts --var name=value and stores blocked previews with their reason", async () => {
    const h = home();
    const p = await h.run("communications.send.preview", {
      template: "order_ready",
      to: "+15551234567",
      var: ["customer_name=Ana", "order_number=7"],
    });
    expect(data(p).body).toBe("Hi Ana, order #7 is ready for pickup.\nReply STOP to opt out.");
    const blocked = await h.run("communications.send.preview", { template: "order_ready", to: "+15551234567", var: "customer_name=Ana" });
    expect(blocked.status).toBe("failed");
    expect(blocked.reason_code).toBe("template_variable_missing");
    const row = h.app.store.comms.preview(data(blocked).preview_id)!;
    expect(pick([row], "status", "reason_code")).toEqual([{ status: "blocked", reason_code: "template_variable_missing" }]);
    const exec = await h.run("communications.send.execute", { preview_id: data(blocked).preview_id });
    expect(exec.reason_code).toBe("template_variable_missing");
    expect(pick(deliveryRows(h), "status", "reason_code")).toEqual([
      { status: "policy_blocked", reason_code: "template_variable_missing" },
    ]);
  });
});

describe("the CLI path (tau cap run)", () => {
  it("parses positional words and --arg flags, previews without confirmation, and executes only when confirmed", async () => {
    const h = home();
    const preview = h.cap("communications.send.preview");
    const args = buildArgs(preview, ["payment_needed", "+15551234567"], { vars: JSON.stringify(PAYMENT_VARS) });
    expect(args.ok).toBe(true);
    const p = await runCapabilityCli(h.services, preview, (args as { args: Record<string, unknown> }).args, {
      yes: false,
      confirm: async () => false,
    });
    expect(p.reason_code).toBe("preview_ready");
    const execute = h.cap("communications.send.execute");
    const eargs = buildArgs(execute, [], { "preview-id": data(p).preview_id });
    const refused = await runCapabilityCli(h.services, execute, (eargs as { args: Record<string, unknown> }).args, {
      yes: false,
      confirm: async () => false,
    });
    expect(refused.reason_code).toBe("command_not_confirmed");
    expect(deliveryRows(h)).toHaveLength(0);
    const done = await runCapabilityCli(h.services, execute, (eargs as { args: Record<string, unknown> }).args, { yes: true });
    expect(done.reason_code).toBe("delivery_simulated");
    expect(buildArgs(preview, ["payment_needed", "+15551234567"], { "message-type": "x" })).toEqual({
      ok: false,
      detail: "unknown argument --message-type",
    });
  });
});

describe("policy gates", () => {
  it("marketing needs an opt-in: unknown → consent_unknown, opted out → consent_opted_out, opted in → ready", async () => {
    const h = home();
    const vars = JSON.stringify({ customer_name: "Ana", promo_code: "SPRING" });
    const unknown = await h.run("communications.send.preview", { template: "spring_promo", to: "+15551234567", vars });
    expect(unknown.reason_code).toBe("consent_unknown");
    const store = h.app.store.comms;
    store.setConsent(
      { recipient: "+15551234567", channel: "sms", message_type: "marketing", status: "opted_in", source: "import" },
      h.now - 1000,
    );
    expect((await h.run("communications.send.preview", { template: "spring_promo", to: "+15551234567", vars })).reason_code).toBe(
      "preview_ready",
    );
    store.setConsent(
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_out", source: "twilio_webhook" },
      h.now,
    );
    expect((await h.run("communications.send.preview", { template: "spring_promo", to: "+15551234567", vars })).reason_code).toBe(
      "consent_opted_out",
    );
  });

  it("an opt-out blocks even transactional messages; the chat allowlist is not consent", async () => {
    const h = home();
    h.services.store.access.addAllowlist({
      actor_key: "telegram:15551234567",
      transport: "telegram",
      actor_id: "15551234567",
      note: "",
      added_by: "cli:test",
      added_at_ms: h.now,
    });
    h.app.store.comms.setConsent(
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_out", source: "twilio_webhook" },
      h.now,
    );
    const r = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    expect(r.reason_code).toBe("consent_opted_out");
  });

  it("quiet hours apply in the recipient's time zone, not the server's", async () => {
    const h = home();
    const store = h.app.store.comms;
    store.setRecipientTimezone("+61412345678", "Australia/Sydney", h.now);
    store.setRecipientTimezone("+919812345678", "Asia/Kolkata", h.now);
    const vars = JSON.stringify(PAYMENT_VARS);
    const sydney = await h.run("communications.send.preview", { template: "payment_needed", to: "+61412345678", vars });
    expect(sydney.reason_code).toBe("quiet_hours_active");
    expect(data(sydney).decisions.find((d: { stage: string }) => d.stage === "quiet_hours").detail).toEqual({
      timezone: "Australia/Sydney",
      local_date: "2026-02-24",
      local_time: "02:00",
      start: "21:00",
      end: "08:00",
    });
    expect((await h.run("communications.send.preview", { template: "payment_needed", to: "+919812345678", vars })).reason_code).toBe(
      "preview_ready",
    );
    // No record: the default zone (America/New_York, 10:00).
    expect((await h.run("communications.send.preview", { template: "payment_needed", to: "+15551234567", vars })).reason_code).toBe(
      "preview_ready",
    );
    // Email is outside the quiet-hours channels.
    expect(
      (await h.run("communications.send.preview", { template: "order_shipped", to: "ana@example.com", vars: JSON.stringify(SHIPPED_VARS) }))
        .reason_code,
    ).toBe("preview_ready");
  });

  it("re-checks quiet hours at execute time and keeps the preview for later", async () => {
    const h = home();
    h.now = Date.parse("2026-02-24T01:50:00Z"); // 20:50 in New York
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    expect(p.reason_code).toBe("preview_ready");
    h.now = Date.parse("2026-02-24T02:01:00Z"); // 21:01 in New York, inside the 15-minute TTL
    const e = await h.run("communications.send.execute", { preview_id: data(p).preview_id });
    expect(e.reason_code).toBe("quiet_hours_active");
    expect(e.text).toContain("recipient local time 21:01 America/New_York");
    expect(h.app.store.comms.preview(data(p).preview_id)?.status).toBe("ready");
    expect(pick(deliveryRows(h), "status", "reason_code")).toEqual([{ status: "policy_blocked", reason_code: "quiet_hours_active" }]);
  });

  it("the STOP footer turns a 150-character GSM message into 2 segments", async () => {
    const h = home({
      edit: (c) =>
        (c.templates.templates.raw_sms = { channel: "sms", message_type: "transactional", body: "{{text}}", required: ["text"] }),
    });
    const r = await h.run("communications.send.preview", { template: "raw_sms", to: "+15551234567", var: `text=${"x".repeat(150)}` });
    expect(data(r).segments).toEqual({ encoding: "GSM-7", units: 173, segments: 2, unitsPerSegment: 153 });
  });

  it("refuses unknown and missing template variables", async () => {
    const h = home();
    const unknown = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify({ ...PAYMENT_VARS, coupon: "X" }),
    });
    expect(unknown.reason_code).toBe("template_variable_unknown");
    expect(unknown.text).toContain("variables coupon");
    const missing = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify({ customer_name: "Ana" }),
    });
    expect(missing.reason_code).toBe("template_variable_missing");
    expect(missing.text).toContain("variables order_number,balance_amount,payment_link");
    expect((await h.run("communications.send.preview", { template: "nope", to: "+15551234567" })).reason_code).toBe("template_unknown");
    expect(
      (await h.run("communications.send.preview", { template: "payment_needed", channel: "email", to: "a@example.com" })).reason_code,
    ).toBe("template_channel_mismatch");
  });

  it("refuses malformed E.164 numbers and email addresses", async () => {
    const h = home();
    expect(
      (await h.run("communications.send.preview", { template: "payment_needed", to: "555-123-4567", vars: JSON.stringify(PAYMENT_VARS) }))
        .reason_code,
    ).toBe("recipient_invalid_phone");
    expect(
      (
        await h.run("communications.send.preview", {
          template: "order_shipped",
          to: "ana@@example.com",
          vars: JSON.stringify(SHIPPED_VARS),
        })
      ).reason_code,
    ).toBe("recipient_invalid_email");
  });
});

describe("stale and tampered previews", () => {
  const preview = async (h: CommsHome, to = "+15551234567") =>
    data(await h.run("communications.send.preview", { template: "payment_needed", to, vars: JSON.stringify(PAYMENT_VARS) }))
      .preview_id as string;

  it("refuses unknown and expired previews", async () => {
    const h = home();
    expect((await h.run("communications.send.execute", { preview_id: "pv_0000000000000000" })).reason_code).toBe("preview_unknown");
    const id = await preview(h);
    h.now += 15 * 60_000;
    expect((await h.run("communications.send.execute", { preview_id: id })).reason_code).toBe("preview_expired");
  });

  it("refuses a preview whose template changed after it was rendered", async () => {
    const h = home();
    const id = await preview(h);
    h.editContracts(
      (c) => (c.templates.templates.payment_needed.body = "Pay {{customer_name}} {{order_number}} {{balance_amount}} {{payment_link}}"),
    );
    const r = await h.run("communications.send.execute", { preview_id: id });
    expect(r.reason_code).toBe("preview_changed");
    expect(data(r).changed).toEqual(["template"]);
  });

  it("refuses a preview when consent or routing changed", async () => {
    const h = home();
    const id = await preview(h);
    h.app.store.comms.setConsent(
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_out", source: "twilio_webhook" },
      h.now,
    );
    const r = await h.run("communications.send.execute", { preview_id: id });
    expect(r.reason_code).toBe("preview_changed");
    expect(data(r).changed).toEqual(["consent"]);
    expect(r.text).toContain("now: consent_opted_out");

    const id2 = await preview(h, "+15557654321");
    h.editContracts((c) => (c.providers.providers.twilio.cutover_phase = "pilot"));
    const r2 = await h.run("communications.send.execute", { preview_id: id2 });
    expect(data(r2).changed).toEqual(["routing"]);
  });

  it("refuses a preview row edited in the database", async () => {
    const h = home();
    const id = await preview(h);
    h.sql().prepare("UPDATE comms_previews SET body = 'Send your password to +15550000000' WHERE preview_id = ?").run(id);
    const r = await h.run("communications.send.execute", { preview_id: id });
    expect(r.reason_code).toBe("preview_changed");
    expect(data(r).changed).toEqual(["message"]);
  });
});

describe("live sends", () => {
  it("Resend receives exactly one email with the idempotency key; a repeated execute is refused", async () => {
    const server = await resend();
    const h = home({ env: { RESEND_API_KEY: server.apiKey }, edit: (c) => goLive(c, { resend: server.url }) });
    const p = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "Ana@Example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    expect(data(p).routing).toMatchObject({ provider: "resend", live: true, reason: "route_live" });
    const id = data(p).preview_id as string;
    const e = await h.run("communications.send.execute", { preview_id: id });
    expect(e.reason_code).toBe("delivery_sent");
    expect(server.emails).toHaveLength(1);
    expect(server.emails[0]!.idempotencyKey).toBe(`tau-preview-${id}`);
    expect(server.emails[0]!.body).toEqual({
      from: "Spine Ops <noreply@spine.example.com>",
      to: "ana@example.com",
      subject: "Order 30020 has shipped",
      text: "Hi Ana,\n\nYour order 30020 is on its way. Tracking number: 1Z999AA10123456784.\n\nSpine Ops\n",
      reply_to: "ops@spine.example.com",
    });
    expect(data(e).provider_id).toBe(server.emails[0]!.id);

    const again = await h.run("communications.send.execute", { preview_id: id });
    expect(again.reason_code).toBe("preview_already_sent");
    expect(server.emails).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  it("the outbound kill switch holds live sends; the preview stays executable", async () => {
    const server = await resend();
    const h = home({ env: { RESEND_API_KEY: server.apiKey }, edit: (c) => goLive(c, { resend: server.url }) });
    const p = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "ana@example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    h.sql()
      .prepare("INSERT INTO killswitches (scope, is_on, reason, changed_by, at_ms) VALUES ('outbound', 1, 'incident', 'cli:test', ?)")
      .run(h.now);
    expect((await h.run("communications.send.execute", { preview_id: data(p).preview_id })).reason_code).toBe("delivery_kill_switch");
    expect(server.requests).toHaveLength(0);
    h.sql().prepare("UPDATE killswitches SET is_on = 0 WHERE scope = 'outbound'").run();
    expect((await h.run("communications.send.execute", { preview_id: data(p).preview_id })).reason_code).toBe("delivery_sent");
    expect(server.emails).toHaveLength(1);
  });

  it("Twilio gets the SMS with the footer through the real SDK", async () => {
    const server = await twilioServer();
    const h = home({
      env: { TWILIO_ACCOUNT_SID: server.accountSid, TWILIO_AUTH_TOKEN: server.authToken },
      edit: (c) => goLive(c, { twilio: server.url }),
    });
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    const e = await h.run("communications.send.execute", { preview_id: data(p).preview_id });
    expect(e.reason_code).toBe("delivery_sent");
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]!.form).toEqual({
      To: "+15551234567",
      From: "+15005550006",
      Body: "Hi Ana, order #30020 has a balance of $150.00. Pay here: https://example.com/pay\nReply STOP to opt out.",
    });
    expect(data(e).provider_id).toBe(server.messages[0]!.json.sid);
  });

  it("pilot phase sends live only to pilot recipients; shadow phase simulates", async () => {
    const server = await twilioServer();
    const h = home({
      env: { TWILIO_ACCOUNT_SID: server.accountSid, TWILIO_AUTH_TOKEN: server.authToken },
      edit: (c) => {
        goLive(c, { twilio: server.url }, "pilot");
        c.providers.providers.twilio.pilot_recipients = ["+15550001111"];
      },
    });
    const vars = JSON.stringify(PAYMENT_VARS);
    expect(
      data(await h.run("communications.send.preview", { template: "payment_needed", to: "+15550001111", vars })).routing,
    ).toMatchObject({ live: true, reason: "route_live" });
    expect(
      data(await h.run("communications.send.preview", { template: "payment_needed", to: "+15551234567", vars })).routing,
    ).toMatchObject({ live: false, reason: "route_simulated_pilot_recipient" });
    h.editContracts((c) => (c.providers.providers.twilio.cutover_phase = "shadow"));
    expect(
      data(await h.run("communications.send.preview", { template: "payment_needed", to: "+15550001111", vars })).routing,
    ).toMatchObject({ live: false, reason: "route_simulated_shadow_phase" });
  });

  it("Twilio 21610 (unsubscribed) records the opt-out and says so", async () => {
    const server = await twilioServer();
    server.optOut("+15551234567");
    const h = home({
      env: { TWILIO_ACCOUNT_SID: server.accountSid, TWILIO_AUTH_TOKEN: server.authToken },
      edit: (c) => goLive(c, { twilio: server.url }),
    });
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    const e = await h.run("communications.send.execute", { preview_id: data(p).preview_id });
    expect(e.status).toBe("failed");
    expect(e.reason_code).toBe("provider_recipient_unsubscribed");
    expect(data(e).consent_updated).toBe(true);
    expect(h.sql().prepare("SELECT recipient, channel, message_type, status, source FROM comms_consent").all()).toEqual([
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_out", source: "provider_error" },
    ]);
    expect(pick(auditRows(h, "comms.consent.opt_out"), "action", "outcome", "reason_code")).toEqual([
      { action: "comms.consent.opt_out", outcome: "opted_out", reason_code: "provider_recipient_unsubscribed" },
    ]);
    expect(
      (await h.run("communications.send.preview", { template: "payment_needed", to: "+15551234567", vars: JSON.stringify(PAYMENT_VARS) }))
        .reason_code,
    ).toBe("consent_opted_out");
  });

  it("Resend 429 → provider_rate_limited with retry-after, and a failed live delivery", async () => {
    const server = await resend();
    server.rateLimitNext({ retryAfterSeconds: 2 });
    const h = home({ env: { RESEND_API_KEY: server.apiKey }, edit: (c) => goLive(c, { resend: server.url }) });
    const p = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "ana@example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    const e = await h.run("communications.send.execute", { preview_id: data(p).preview_id });
    expect(e.reason_code).toBe("provider_rate_limited");
    expect(data(e).retry_after_ms).toBe(2000);
    expect(server.emails).toHaveLength(0);
    expect(pick(deliveryRows(h), "status", "reason_code", "live")).toEqual([
      { status: "failed", reason_code: "provider_rate_limited", live: 1 },
    ]);
  });

  it("a wrong API key is provider_auth_failed and the key never appears in the answer", async () => {
    const server = await resend();
    const h = home({ env: { RESEND_API_KEY: "re_wrong_key_9f8e7d" }, edit: (c) => goLive(c, { resend: server.url }) });
    const p = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "ana@example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    const e = await h.run("communications.send.execute", { preview_id: data(p).preview_id });
    expect(e.reason_code).toBe("provider_auth_failed");
    expect(JSON.stringify(e)).not.toContain("re_wrong_key_9f8e7d");
  });

  it("a provider that never answers is provider_timeout (status timeout: the request may have arrived)", async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    open.push({ close: () => new Promise<void>((r) => (silent.closeAllConnections(), silent.close(() => r()))) });
    const root = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const h = home({
      env: { RESEND_API_KEY: "re_test_123", TWILIO_ACCOUNT_SID: `AC${"0".repeat(32)}`, TWILIO_AUTH_TOKEN: "t" },
      edit: (c) => {
        goLive(c, { resend: root, twilio: root });
        c.providers.providers.resend.timeout_ms = 200;
        c.providers.providers.twilio.timeout_ms = 200;
      },
    });
    const email = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "ana@example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    expect((await h.run("communications.send.execute", { preview_id: data(email).preview_id })).reason_code).toBe("provider_timeout");
    const sms = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    const e = await h.run("communications.send.execute", { preview_id: data(sms).preview_id });
    expect(e.reason_code).toBe("provider_timeout");
    expect(e.text).toContain("The provider may have accepted it");
    expect(pick(deliveryRows(h), "channel", "status", "reason_code")).toEqual([
      { channel: "email", status: "timeout", reason_code: "provider_timeout" },
      { channel: "sms", status: "timeout", reason_code: "provider_timeout" },
    ]);
  });

  it("missing credentials on a live route fail as provider_credentials_missing", async () => {
    const h = home({ edit: (c) => goLive(c, { twilio: "http://127.0.0.1:9" }) });
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    const e = await h.run("communications.send.execute", { preview_id: data(p).preview_id });
    expect(e.reason_code).toBe("provider_credentials_missing");
    expect(e.text).toContain("twilio-account-sid, twilio-auth-token");
  });
});
