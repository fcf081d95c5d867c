/**
 * The Resend and Twilio adapters under provider faults (issue 14), with the real SDKs against the local servers: the
 * HTTP status decides whatever the body (an HTML 502, an empty 500, a truncated JSON answer), a 429 keeps its
 * Retry-After, an accepted send whose answer cannot be read is not reported failed, and a Twilio send that may have
 * reached Twilio is ambiguous (`timeout`) — Resend's are covered by its Idempotency-Key on replay.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createResendAdapter } from "../../../src/capabilities/communications/resend-adapter.ts";
import { createTwilioAdapter } from "../../../src/capabilities/communications/twilio-adapter.ts";
import type { EmailMessage, SmsMessage } from "../../../src/capabilities/communications/provider-ports.ts";
import { freePort } from "../../helpers/free-port.ts";
import { startResendServer, type ResendServerHandle } from "../../helpers/resend-server.ts";
import { startTwilioServer, type TwilioServerHandle } from "../../helpers/twilio-server.ts";

const HTML_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body>\r\n</html>\r\n";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function resend(): Promise<ResendServerHandle> {
  const s = await startResendServer();
  cleanups.push(() => s.close());
  return s;
}
async function twilioServer(port?: number): Promise<TwilioServerHandle> {
  const s = await startTwilioServer(port ? { port } : {});
  cleanups.push(() => s.close());
  return s;
}

const email: EmailMessage = {
  from: "ops@example.com",
  to: "oncall@example.com",
  subject: "disk full",
  text: "db-1 is at 97%",
  replyTo: null,
  idempotencyKey: "tau-preview-pv_1",
};
const sms: SmsMessage = {
  from: "+15005550006",
  messagingServiceSid: null,
  to: "+15551230001",
  body: "db-1 is at 97%",
  statusCallback: null,
};

describe("Resend adapter: the status decides", () => {
  const adapter = (s: ResendServerHandle) => createResendAdapter({ apiKey: s.apiKey, baseUrl: s.url, timeoutMs: 2000 });

  it("an HTML 502 from a proxy → provider_unavailable with its status", async () => {
    const s = await resend();
    s.failNext({ status: 502, body: HTML_502 });
    expect(await adapter(s).send(email)).toMatchObject({
      ok: false,
      status: "failed",
      reason_code: "provider_unavailable",
      http_status: 502,
    });
  });

  it("an empty 500 → provider_unavailable; a truncated JSON 422 → provider_validation_failed", async () => {
    const s = await resend();
    s.failNext({ status: 500, body: "" });
    expect(await adapter(s).send(email)).toMatchObject({ reason_code: "provider_unavailable", http_status: 500 });
    s.failNext({ status: 422, body: '{"statusCode":422,"name":"validation_err' });
    expect(await adapter(s).send(email)).toMatchObject({ reason_code: "provider_validation_failed", http_status: 422 });
  });

  it("a 429 with an HTML body and only a Retry-After header → rate limited, waiting as told", async () => {
    const s = await resend();
    s.failNext({ status: 429, body: "<html>Too Many Requests</html>", headers: { "retry-after": "7" } });
    expect(await adapter(s).send(email)).toMatchObject({ reason_code: "provider_rate_limited", http_status: 429, retry_after_ms: 7000 });
  });
});

describe("Twilio adapter: the status decides, and an SMS that may have been sent is ambiguous", () => {
  const adapter = (s: { url: string; accountSid: string; authToken: string }, timeoutMs = 2000) =>
    createTwilioAdapter({ accountSid: s.accountSid, authToken: s.authToken, apiRoot: s.url, timeoutMs });

  it("an HTML 502 → provider_unavailable (failed, never sent); an empty 500 too", async () => {
    const s = await twilioServer();
    s.failNext({ status: 502, body: HTML_502 });
    expect(await adapter(s).send(sms)).toMatchObject({
      ok: false,
      status: "failed",
      reason_code: "provider_unavailable",
      http_status: 502,
    });
    s.failNext({ status: 500, body: "" });
    expect(await adapter(s).send(sms)).toMatchObject({ status: "failed", reason_code: "provider_unavailable", http_status: 500 });
  });

  it("a 429 keeps its Retry-After", async () => {
    const s = await twilioServer();
    s.failNext({ status: 429, body: { code: 20429, message: "Too Many Requests", status: 429 }, headers: { "retry-after": "3" } });
    expect(await adapter(s).send(sms)).toMatchObject({ reason_code: "provider_rate_limited", http_status: 429, retry_after_ms: 3000 });
  });

  it("a 201 whose body is truncated was accepted: sent, not failed (a retry would send the SMS twice)", async () => {
    const s = await twilioServer();
    s.failNext({ status: 201, body: '{"sid": "SM0123', headers: { "content-type": "application/json" } });
    expect(await adapter(s).send(sms)).toMatchObject({ ok: true, status: "sent", provider_id: "unknown:201" });
  });

  it("a connection closed after Twilio processed the request → timeout (ambiguous), and the SMS exists once", async () => {
    const s = await twilioServer();
    s.closeNext("drop");
    expect(await adapter(s).send(sms)).toMatchObject({
      ok: false,
      status: "timeout",
      reason_code: "provider_unavailable",
      http_status: null,
    });
    expect(s.messages).toHaveLength(1);
  });

  it("a refused connection proves nothing was sent → failed (safe to send again)", async () => {
    const port = await freePort();
    const out = await adapter({ url: `http://127.0.0.1:${port}`, accountSid: `AC${"0".repeat(32)}`, authToken: "test_auth_token" }).send(
      sms,
    );
    expect(out).toMatchObject({ ok: false, status: "failed", reason_code: "provider_unavailable", http_status: null });
  });
});
