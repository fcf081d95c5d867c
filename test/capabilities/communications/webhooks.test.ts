/**
 * @module Provider webhooks on a real listening Hono server: Twilio inbound SMS (signature against the public
 * URL, STOP/START/HELP → consent registry + audit) and Resend delivery events (Svix signature, ±5 min).
 */
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { createCommsWebhooks } from "../../../src/capabilities/communications/index.ts";
import { deliverResendWebhook, makeSvixSecret, startResendServer } from "../../helpers/resend-server.ts";
import { deliverInboundSms, signTwilioWebhook, startTwilioServer } from "../../helpers/twilio-server.ts";
import { auditRows, deliveryRows, goLive, makeCommsHome, PAYMENT_VARS, pick, SHIPPED_VARS, type CommsHome } from "./comms-home.ts";

const PUBLIC = "https://tau.example.com";
const TOKEN = "twilio_test_token_5c1d";
const ACCOUNT = `AC${"1".repeat(32)}`;
const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function listen(h: CommsHome): Promise<string> {
  const hooks = createCommsWebhooks(h.services);
  const app = new Hono();
  app.post("/webhooks/twilio", hooks.twilio);
  app.post("/webhooks/resend", hooks.resend);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function home(opts: Parameters<typeof makeCommsHome>[0] = {}): CommsHome {
  const h = makeCommsHome({
    tauYaml: `server:\n  public_url: "${PUBLIC}"\n`,
    env: { TWILIO_AUTH_TOKEN: TOKEN, TWILIO_ACCOUNT_SID: ACCOUNT },
    ...opts,
  });
  open.push(h);
  return h;
}

const consent = (h: CommsHome) => h.sql().prepare("SELECT recipient, channel, message_type, status, source FROM comms_consent").all();
const auditOf = (h: CommsHome): Record<string, string>[] =>
  pick(auditRows(h, "comms.consent.%"), "actor", "surface", "action", "outcome", "reason_code", "args");

describe("POST /webhooks/twilio", () => {
  const sms = (base: string, body: string, opts: { token?: string; signUrl?: string; sid?: string } = {}) =>
    deliverInboundSms(`${base}/webhooks/twilio`, opts.token ?? TOKEN, {
      accountSid: ACCOUNT,
      from: "+15551234567",
      to: "+15005550006",
      body,
      signUrl: opts.signUrl ?? `${PUBLIC}/webhooks/twilio`,
      ...(opts.sid ? { extra: { MessageSid: opts.sid } } : {}),
    });

  it("refuses forged requests with 403 and changes nothing", async () => {
    const h = home();
    const base = await listen(h);
    expect((await sms(base, "STOP", { token: "not-the-token" })).status).toBe(403);
    // Signed for the URL the proxy forwarded to, not the public one Twilio was configured with.
    expect((await sms(base, "STOP", { signUrl: `${base}/webhooks/twilio` })).status).toBe(403);
    expect(consent(h)).toEqual([]);
    expect(auditOf(h)).toEqual([]);
  });

  it("refuses everything when server.public_url is not configured", async () => {
    const h = makeCommsHome({ env: { TWILIO_AUTH_TOKEN: TOKEN } });
    open.push(h);
    const base = await listen(h);
    expect((await sms(base, "STOP", { signUrl: `${base}/webhooks/twilio` })).status).toBe(403);
    expect(consent(h)).toEqual([]);
  });

  it("STOP opts out (with an audit record and the TwiML reply), START opts back in, HELP only answers", async () => {
    const h = home();
    const base = await listen(h);
    const stop = await sms(base, " stop ");
    expect(stop.status).toBe(200);
    expect(stop.text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Message>You are unsubscribed and will get no more messages. Reply START to resubscribe.</Message></Response>',
    );
    expect(consent(h)).toEqual([
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_out", source: "twilio_webhook" },
    ]);
    const audit = auditOf(h);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: "sms:+1***4567",
      surface: "http",
      action: "comms.consent.opt_out",
      outcome: "opted_out",
      reason_code: "consent_opted_out",
    });
    expect(audit[0]!.args).not.toContain("5551234567");

    h.now += 60_000;
    const start = await sms(base, "Unstop");
    expect(start.text).toContain("<Message>You are subscribed again. Reply STOP to unsubscribe.</Message>");
    expect(consent(h)).toEqual([
      { recipient: "+15551234567", channel: "sms", message_type: "*", status: "opted_in", source: "twilio_webhook" },
    ]);

    const help = await sms(base, "HELP");
    expect(help.text).toContain("<Message>Spine Ops notifications. Reply STOP to unsubscribe. Msg&amp;data rates may apply.</Message>");
    const other = await sms(base, "can you stop by later?");
    expect(other.text).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    expect(auditOf(h).map((a) => a.action)).toEqual(["comms.consent.opt_out", "comms.consent.opt_in"]);
  });

  it("a redelivered message (same MessageSid) is applied once", async () => {
    const h = home();
    const base = await listen(h);
    const sid = `SM${"a".repeat(32)}`;
    await sms(base, "STOP", { sid });
    await sms(base, "STOP", { sid });
    expect(auditOf(h)).toHaveLength(1);
  });

  it("status callbacks move the SMS delivery forward (signed like every Twilio webhook)", async () => {
    const server = await startTwilioServer({ accountSid: ACCOUNT, authToken: TOKEN });
    open.push(server);
    const h = home({ edit: (c) => goLive(c, { twilio: server.url }) });
    const base = await listen(h);
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    await h.run("communications.send.execute", { preview_id: (p.data as { preview_id: string }).preview_id });
    const sid = server.messages[0]!.json.sid;
    const callback = async (status: string, token = TOKEN) => {
      const params = {
        AccountSid: ACCOUNT,
        MessageSid: sid,
        MessageStatus: status,
        To: "+15551234567",
        From: "+15005550006",
        ApiVersion: "2010-04-01",
      };
      const r = await fetch(`${base}/webhooks/twilio`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-twilio-signature": signTwilioWebhook(token, `${PUBLIC}/webhooks/twilio`, params),
        },
        body: new URLSearchParams(params).toString(),
      });
      return r.status;
    };
    const row = () => pick(deliveryRows(h), "status", "reason_code")[0];
    expect(await callback("delivered", "forged")).toBe(403);
    expect(row()).toEqual({ status: "sent", reason_code: "delivery_sent" });
    expect(await callback("delivered")).toBe(200);
    expect(row()).toEqual({ status: "delivered", reason_code: "delivery_delivered" });
    expect(await callback("sent")).toBe(200);
    expect(row()).toEqual({ status: "delivered", reason_code: "delivery_delivered" });
  });

  it("honours STOP even when policy.yaml is broken", async () => {
    const h = home();
    const base = await listen(h);
    h.editContracts((c) => (c.policy.quiet_hours.start = "25:00"));
    expect((await sms(base, "STOP")).status).toBe(200);
    expect(consent(h)).toMatchObject([{ status: "opted_out" }]);
  });
});

describe("POST /webhooks/resend", () => {
  it("verifies the Svix signature and moves the delivery forward, never back", async () => {
    const resend = await startResendServer();
    open.push(resend);
    const secret = makeSvixSecret();
    const h = home({
      env: { RESEND_API_KEY: resend.apiKey, RESEND_WEBHOOK_SECRET: secret },
      edit: (c) => goLive(c, { resend: resend.url }),
    });
    const base = await listen(h);
    const p = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "ana@example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    await h.run("communications.send.execute", { preview_id: (p.data as { preview_id: string }).preview_id });
    const emailId = resend.emails[0]!.id;
    const status = () => pick(deliveryRows(h), "status", "reason_code")[0];
    const event = (type: string) => ({
      type,
      created_at: "2026-02-23T15:00:05.000Z",
      data: { email_id: emailId, to: ["ana@example.com"], subject: "Order 30020 has shipped" },
    });
    const url = `${base}/webhooks/resend`;

    const forged = await deliverResendWebhook(url, makeSvixSecret(), event("email.delivered"), { timestamp: new Date(h.now) });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.text)).toEqual({ error: "webhook_signature_invalid" });
    const stale = await deliverResendWebhook(url, secret, event("email.delivered"), { timestamp: new Date(h.now - 6 * 60_000) });
    expect(stale.status).toBe(401);
    expect(JSON.parse(stale.text)).toEqual({ error: "webhook_timestamp_stale" });
    expect(status()).toEqual({ status: "sent", reason_code: "delivery_sent" });

    const ok = await deliverResendWebhook(url, secret, event("email.delivered"), { id: "msg_1", timestamp: new Date(h.now) });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ ok: true, outcome: "updated", status: "delivered" });
    expect(status()).toEqual({ status: "delivered", reason_code: "delivery_delivered" });

    const late = await deliverResendWebhook(url, secret, event("email.sent"), { id: "msg_2", timestamp: new Date(h.now) });
    expect(JSON.parse(late.text)).toMatchObject({ outcome: "unchanged" });
    const dup = await deliverResendWebhook(url, secret, event("email.bounced"), { id: "msg_1", timestamp: new Date(h.now) });
    expect(JSON.parse(dup.text)).toMatchObject({ outcome: "duplicate" });
    expect(status()).toEqual({ status: "delivered", reason_code: "delivery_delivered" });

    const complained = await deliverResendWebhook(url, secret, event("email.complained"), { id: "msg_3", timestamp: new Date(h.now) });
    expect(JSON.parse(complained.text)).toMatchObject({ outcome: "updated", status: "complained" });
  });

  it("refuses every request when no webhook secret is configured", async () => {
    const h = home();
    const base = await listen(h);
    const r = await deliverResendWebhook(
      `${base}/webhooks/resend`,
      makeSvixSecret(),
      { type: "email.delivered", data: { email_id: "x" } },
      { timestamp: new Date(h.now) },
    );
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toEqual({ error: "webhook_secret_missing" });
  });
});
