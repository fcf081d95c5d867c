/**
 * @module Hono handlers for provider webhooks (the server mounts them):
 * - `POST /webhooks/twilio`: `X-Twilio-Signature` checked against the configured PUBLIC url
 *   (`server.public_url` + path + query) first; forged → 403 with nothing changed. STOP/START (and the
 *   policy.yaml synonyms) update the consent registry with an audit record; HELP answers; TwiML replies.
 *   Status callbacks (`MessageStatus`, when `providers.twilio.status_callback` points here) update deliveries.
 * - `POST /webhooks/resend`: Svix signature over the raw body, ±5 min; forged or stale → 401. Delivery events
 *   move the delivery log forward (sent → delivered / bounced / complained / failed), never backward.
 * Both are idempotent under redelivery (`MessageSid`, `svix-id`).
 */
import type { Context } from "hono";
import type { Services } from "../services.ts";
import { classifySmsKeyword, type SmsKeyword } from "../../policy/consent.ts";
import { E164 } from "../../policy/templates.ts";
import { CommsPolicySchema, loadCommsContracts, type CommsPolicy } from "./contracts.ts";
import { commsDirOf } from "./context.ts";
import type { DeliveryStatus } from "../../store/index.ts";
import { maskRecipient, recipientHash } from "./recipients.ts";

type WebhookHandler = (c: Context) => Promise<Response>;

/** The keywords and replies in force; if policy.yaml is broken, the built-in STOP/START/HELP still apply. */
function smsPolicy(s: Services): CommsPolicy["sms"] {
  try {
    return loadCommsContracts(commsDirOf(s)).policy.sms;
  } catch {
    // A broken contract must never make tau ignore STOP: fall back to the schema defaults.
    return CommsPolicySchema.shape.sms.parse({ keywords: {} });
  }
}

const xml = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** TwiML with an optional reply. @see https://www.twilio.com/docs/messaging/twiml */
function twiml(message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${message ? `<Message>${xml(message)}</Message>` : ""}</Response>`;
}

function formParams(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const form = new URLSearchParams(raw);
  for (const key of new Set(form.keys())) {
    const all = form.getAll(key);
    out[key] = all.length > 1 ? all : all[0]!;
  }
  return out;
}

const EVENT_STATUS: Record<string, { status: DeliveryStatus | null; reason: string }> = {
  "email.sent": { status: "sent", reason: "delivery_sent" },
  "email.delivered": { status: "delivered", reason: "delivery_delivered" },
  "email.delivery_delayed": { status: null, reason: "delivery_delayed" },
  "email.bounced": { status: "bounced", reason: "delivery_bounced" },
  "email.complained": { status: "complained", reason: "delivery_complained" },
  "email.failed": { status: "failed", reason: "delivery_failed" },
};
/** Twilio `MessageStatus` → delivery status (queued/accepted/sending carry no news). */
const TWILIO_STATUS: Record<string, { status: DeliveryStatus; reason: string }> = {
  sent: { status: "sent", reason: "delivery_sent" },
  delivered: { status: "delivered", reason: "delivery_delivered" },
  undelivered: { status: "failed", reason: "delivery_undelivered" },
  failed: { status: "failed", reason: "delivery_failed" },
};

/** Later states never move back (webhooks arrive out of order). */
const RANK: Record<DeliveryStatus, number> = {
  sending: 0,
  simulated: 0,
  policy_blocked: 0,
  timeout: 0,
  sent: 1,
  delivered: 2,
  failed: 3,
  bounced: 3,
  complained: 3,
};

/** The two handlers over `services` (store, audit, secrets, clock, config). */
export function createCommsWebhooks(s: Services): { twilio: WebhookHandler; resend: WebhookHandler } {
  const store = s.store.comms;

  const twilio: WebhookHandler = async (c) => {
    const raw = await c.req.text();
    const params = formParams(raw);
    const token = s.secret("twilio-auth-token") ?? "";
    const base = s.config.server.public_url.replace(/\/+$/, "");
    const query = new URL(c.req.url).search;
    const signature = c.req.header("x-twilio-signature") ?? "";
    // Twilio signs the URL it was configured with; without a public URL there is nothing to check against.
    // The SDKs load on first use: importing them costs tens of MB that a runner without comms never needs.
    const { verifyTwilioSignature } = await import("./twilio-adapter.ts");
    if (base === "" || !verifyTwilioSignature(token, signature, `${base}/webhooks/twilio${query}`, params)) {
      return c.text("Forbidden", 403);
    }
    const reply = (text: string) => c.body(twiml(text), 200, { "content-type": "text/xml; charset=utf-8" });
    if (typeof params.MessageStatus === "string" && params.Body === undefined) return twilioStatus(params) ?? reply("");
    const from = typeof params.From === "string" ? params.From : "";
    const body = typeof params.Body === "string" ? params.Body : "";
    const sid = typeof params.MessageSid === "string" ? params.MessageSid : "";
    const sms = smsPolicy(s);
    const keyword: SmsKeyword | null = classifySmsKeyword(body, sms.keywords);
    if (keyword === null || !E164.test(from)) return reply("");
    const now = s.clock();
    const text = keyword === "opt_out" ? sms.replies.opt_out : keyword === "opt_in" ? sms.replies.opt_in : sms.replies.help;
    if (keyword === "help") return reply(text);
    s.store.atomically(() => {
      if (sid !== "" && !store.markWebhook("twilio", sid, now)) return;
      const status = keyword === "opt_out" ? "opted_out" : "opted_in";
      store.setConsent({ recipient: from, channel: "sms", message_type: "*", status, source: "twilio_webhook" }, now);
      s.audit({
        actor: `sms:${maskRecipient(from)}`,
        surface: "http",
        action: keyword === "opt_out" ? "comms.consent.opt_out" : "comms.consent.opt_in",
        target: "comms_consent",
        args: { recipient: maskRecipient(from), recipient_hash: recipientHash(from), keyword: body.trim().toUpperCase(), message_sid: sid },
        outcome: status,
        reason_code: keyword === "opt_out" ? "consent_opted_out" : "consent_opted_in",
      });
    });
    return reply(text);
  };

  /** A status callback: move the delivery with this `MessageSid` forward. Returns null (answer empty TwiML). */
  function twilioStatus(params: Record<string, string | string[]>): null {
    const sid = typeof params.MessageSid === "string" ? params.MessageSid : "";
    const mapped = TWILIO_STATUS[params.MessageStatus as string];
    if (!mapped || sid === "") return null;
    const now = s.clock();
    s.store.atomically(() => {
      if (!store.markWebhook("twilio", `${sid}:${params.MessageStatus as string}`, now)) return;
      const row = store.deliveryByProviderId("twilio", sid);
      if (!row || RANK[mapped.status] <= RANK[row.status]) return;
      const reason = mapped.status === "failed" && params.ErrorCode === "21610" ? "provider_recipient_unsubscribed" : mapped.reason;
      store.updateDelivery(row.delivery_id, { status: mapped.status, reason_code: reason }, now);
    });
    return null;
  }

  const resend: WebhookHandler = async (c) => {
    const raw = await c.req.text();
    const secret = s.secret("resend-webhook-secret");
    const { verifyResendWebhook } = await import("./resend-adapter.ts");
    const verdict = secret
      ? verifyResendWebhook({
          secret,
          rawBody: raw,
          headers: { id: c.req.header("svix-id"), timestamp: c.req.header("svix-timestamp"), signature: c.req.header("svix-signature") },
          nowMs: s.clock(),
        })
      : ({ ok: false, reason: "webhook_secret_missing" } as const);
    if (!verdict.ok) return c.json({ error: verdict.reason }, 401);
    const event = verdict.payload as { type?: unknown; data?: { email_id?: unknown } };
    const type = typeof event.type === "string" ? event.type : "";
    const emailId = typeof event.data?.email_id === "string" ? event.data.email_id : "";
    const mapping = EVENT_STATUS[type];
    if (!mapping || emailId === "") return c.json({ ok: true, ignored: type || "unknown" }, 200);
    const now = s.clock();
    const result = s.store.atomically(() => {
      if (!store.markWebhook("resend", c.req.header("svix-id")!, now)) return { outcome: "duplicate" as const };
      const row = store.deliveryByProviderId("resend", emailId);
      if (!row) return { outcome: "unknown_email" as const };
      if (mapping.status === null || RANK[mapping.status] < RANK[row.status] || mapping.status === row.status) {
        return { outcome: "unchanged" as const, delivery_id: row.delivery_id, status: row.status };
      }
      store.updateDelivery(row.delivery_id, { status: mapping.status, reason_code: mapping.reason }, now);
      return { outcome: "updated" as const, delivery_id: row.delivery_id, status: mapping.status };
    });
    // 200 for every verified event, so Resend does not retry something we chose to ignore.
    return c.json({ ok: true, ...result }, 200);
  };

  return { twilio, resend };
}
