/** WhatsApp webhooks: GET verification and signed POSTs over the exact raw bytes, through the real handler. */
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createWhatsAppConnector, type WhatsAppConnector } from "../../connectors/whatsapp/inbound.ts";
import { failingSink, makeHarness, type Harness } from "../helpers/connector-harness.ts";
import { inboundMessage, signWebhook, statusUpdate, webhookBody } from "../helpers/whatsapp-graph-server.ts";

const APP_SECRET = "wa-app-secret-0123456789abcdef";
const VERIFY_TOKEN = "wa-verify-token-42";
const SECRETS = { "whatsapp-app-secret": APP_SECRET, "whatsapp-verify-token": VERIFY_TOKEN };

let h: Harness;
let connector: WhatsAppConnector;
let app: Hono;

function mount(c: WhatsAppConnector): Hono {
  const a = new Hono();
  for (const r of c.webhooks) a.on(r.method, r.path, r.handler);
  return a;
}

beforeEach(async () => {
  h = makeHarness();
  connector = createWhatsAppConnector({ ...h.deps(SECRETS), mode: "webhook", maxBodyBytes: 64 * 1024 });
  await connector.start();
  app = mount(connector);
});
afterEach(async () => {
  await connector.stop();
  await h.cleanup();
});

const post = (body: string, headers: Record<string, string>) =>
  app.request("/webhooks/whatsapp", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
const signed = (body: string) => post(body, { "x-hub-signature-256": signWebhook(APP_SECRET, body) });

describe("GET /webhooks/whatsapp verification", () => {
  it("answers the raw hub.challenge for subscribe + the right token, 403 otherwise", async () => {
    const ok = await app.request("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wa-verify-token-42");
    expect([ok.status, await ok.text()]).toEqual([200, "1158201444"]);
    const wrong = await app.request("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wa-verify-token-43");
    expect(wrong.status).toBe(403);
    const mode = await app.request("/webhooks/whatsapp?hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=wa-verify-token-42");
    expect(mode.status).toBe(403);
    expect((await app.request("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1")).status).toBe(403);
  });
});

describe("POST /webhooks/whatsapp", () => {
  it("accepts a signed body with escaped non-ASCII and appends every message and status before the 200", async () => {
    const body = webhookBody({
      messages: [
        inboundMessage({ from: "16505551234", id: "wamid.AAA111", timestamp: 1763712000, text: "café 😀 ünïcödé" }),
        inboundMessage({ from: "16505559876", id: "wamid.AAA222", timestamp: 1763712001, text: "second" }),
      ],
      statuses: [statusUpdate({ id: "wamid.OUT1", status: "delivered", recipient_id: "16505551234", timestamp: 1763712002 })],
    });
    expect(body).toContain("caf\\u00e9"); // Meta's escaped form: the HMAC is over these bytes
    const r = await signed(body);
    expect(r.status).toBe(200);
    expect(h.read("whatsapp").map((e) => [e.event_id, e.kind, e.chat_type, e.text])).toEqual([
      ["whatsapp:wamid.AAA111", "message", "dm", "café 😀 ünïcödé"],
      ["whatsapp:wamid.AAA222", "message", "dm", "second"],
      ["whatsapp:wamid.OUT1:delivered", "status", "dm", ""],
    ]);
    expect(connector.status()).toMatchObject({ events_ingested: 3, liveness: "live", auth_failures: 0 });
  });

  it("refuses a re-serialized body with the original (now stale) signature, and a missing signature: 401, nothing written", async () => {
    const body = webhookBody({ messages: [inboundMessage({ from: "16505551234", id: "wamid.BBB111", text: "naïve façade 🚀" })] });
    const signature = signWebhook(APP_SECRET, body);
    const reserialized = JSON.stringify(JSON.parse(body)); // literal UTF-8 now: different bytes
    expect(reserialized).not.toBe(body);
    expect((await post(reserialized, { "x-hub-signature-256": signature })).status).toBe(401);
    expect((await post(body, {})).status).toBe(401);
    expect((await post(body, { "x-hub-signature-256": signWebhook("another-secret", body) })).status).toBe(401);
    expect((await post(body, { "x-hub-signature-256": "sha256=00" })).status).toBe(401);
    expect(h.read("whatsapp")).toEqual([]);
    expect(connector.status()).toMatchObject({ auth_failures: 4, events_ingested: 0, last_error_code: "whatsapp_signature_invalid" });
  });

  it("400 for signed malformed JSON, 413 for oversized bodies, nothing written", async () => {
    expect((await signed('{"object": ')).status).toBe(400);
    const big = webhookBody({ messages: [inboundMessage({ from: "16505551234", id: "wamid.CCC", text: "x".repeat(70 * 1024) })] });
    const r = await signed(big);
    expect(r.status).toBe(413);
    expect(h.read("whatsapp")).toEqual([]);
  });

  it("a refused change does not take the other changes of the same POST down", async () => {
    const good = {
      field: "messages",
      value: {
        messaging_product: "whatsapp",
        metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
        contacts: [{ profile: { name: "Ana" }, wa_id: "16505551234" }],
        messages: [{ from: "16505551234", id: "wamid.GOOD", timestamp: "1763712000", type: "text", text: { body: "ok" } }],
      },
    };
    const bad = {
      field: "messages",
      value: {
        messaging_product: "whatsapp",
        metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
        messages: [{ id: "wamid.BAD", timestamp: "1763712000", type: "text", text: { body: "no sender" } }],
      },
    };
    const body = JSON.stringify({ object: "whatsapp_business_account", entry: [{ id: "102290129340398", changes: [bad, good] }] });
    expect((await signed(body)).status).toBe(200);
    expect(h.read("whatsapp").map((e) => e.event_id)).toEqual(["whatsapp:wamid.GOOD"]);
    expect(connector.status()).toMatchObject({ parse_failures: 1, last_error_code: "ingress_missing_id", events_ingested: 1 });
  });

  it("redelivery of the same body is skipped as a duplicate; a failed append is a 500 (Meta retries)", async () => {
    const body = webhookBody({ messages: [inboundMessage({ from: "16505551234", id: "wamid.DUP", text: "once" })] });
    expect((await signed(body)).status).toBe(200);
    expect((await signed(body)).status).toBe(200);
    expect(h.read("whatsapp")).toHaveLength(1);
    expect(connector.status().duplicates_skipped).toBe(1);

    const failing = createWhatsAppConnector({ ...h.deps(SECRETS, { ingress: failingSink() }), mode: "webhook" });
    await failing.start();
    const r = await mount(failing).request("/webhooks/whatsapp", {
      method: "POST",
      headers: { "x-hub-signature-256": signWebhook(APP_SECRET, body) },
      body,
    });
    expect(r.status).toBe(500);
    await failing.stop();
  });

  it("refuses to start without the app secret, and answers 503 while stopped", async () => {
    const noSecret = createWhatsAppConnector({ ...h.deps({}), mode: "webhook" });
    await expect(noSecret.start()).rejects.toMatchObject({ code: "MISSING_WHATSAPP_APP_SECRET", reason: "missing_whatsapp_app_secret" });
    await connector.stop();
    const body = webhookBody({ messages: [inboundMessage({ from: "16505551234", id: "wamid.LATE", text: "late" })] });
    expect((await signed(body)).status).toBe(503);
    expect(h.read("whatsapp")).toEqual([]);
  });
});
