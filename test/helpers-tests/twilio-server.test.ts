// Proves test/helpers/twilio-server.ts with the real `twilio` 6.2.0 SDK (custom httpClient) and twilio.validateRequest.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import twilio from "twilio";
import {
  countSmsSegments,
  createLocalTwilioClient,
  deliverInboundSms,
  signTwilioWebhook,
  startTwilioServer,
  type TwilioServerHandle,
} from "../helpers/twilio-server.ts";

const SID = `AC${"1".repeat(32)}`;
const TOKEN = "tok_9f8e7d";
const FROM = "+15005550006";

type RestError = { status?: number; code?: number; message?: string; moreInfo?: string };

async function rejection(p: Promise<unknown>): Promise<RestError & Error> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e as RestError & Error,
  );
}

describe("startTwilioServer + twilio SDK 6.2.0", () => {
  let srv: TwilioServerHandle;
  let client: twilio.Twilio;

  beforeAll(async () => {
    srv = await startTwilioServer({ accountSid: SID, authToken: TOKEN });
    client = createLocalTwilioClient(SID, TOKEN, srv);
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("creates a message: 201 with sid SM…, status queued, num_segments", async () => {
    const msg = await client.messages.create({ to: "+15558675310", from: FROM, body: "deploy 42 finished" });
    expect(msg.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.status).toBe("queued");
    expect(msg.numSegments).toBe("1");
    expect(msg.to).toBe("+15558675310");
    expect(msg.from).toBe(FROM);
    expect(msg.accountSid).toBe(SID);
    expect(msg.direction).toBe("outbound-api");
    expect(msg.dateCreated).toBeInstanceOf(Date);

    const rec = srv.messages.at(-1)!;
    expect(rec.form).toEqual({ To: "+15558675310", From: FROM, Body: "deploy 42 finished" });
    expect(rec.headers["authorization"]).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString("base64")}`);
    expect(rec.headers["user-agent"]).toMatch(/^twilio-node\/6\.2\.0 /);

    const fetched = await client.messages(msg.sid).fetch();
    expect(fetched.sid).toBe(msg.sid);
  });

  it("counts segments: GSM-7 153/part, UCS-2 67/part; Messaging Service → status accepted", async () => {
    const long = await client.messages.create({ to: "+15558675310", from: FROM, body: "a".repeat(161) });
    expect(long.numSegments).toBe("2");
    const emoji = await client.messages.create({ to: "+15558675310", messagingServiceSid: `MG${"2".repeat(32)}`, body: "✅".repeat(71) });
    expect(emoji.numSegments).toBe("2");
    expect(emoji.status).toBe("accepted");
    expect(emoji.from).toBeNull();
    // € is in the GSM extension table: 2 septets each
    expect(countSmsSegments("€".repeat(80))).toEqual({ encoding: "GSM-7", segments: 1 });
    expect(countSmsSegments("€".repeat(81))).toEqual({ encoding: "GSM-7", segments: 2 });
    expect(countSmsSegments("a".repeat(160))).toEqual({ encoding: "GSM-7", segments: 1 });
  });

  it("invalid To → RestException 400 / 21211", async () => {
    const e = await rejection(client.messages.create({ to: "5558675310", from: FROM, body: "x" }));
    expect(e).toBeInstanceOf(twilio.RestException);
    expect([e.status, e.code]).toEqual([400, 21211]);
    expect(e.message).toBe("Invalid 'To' Phone Number: 5558675310");
    expect(e.moreInfo).toBe("https://www.twilio.com/docs/errors/21211");
  });

  it("missing From → 21603, missing Body → 21602", async () => {
    const noFrom = await rejection(client.messages.create({ to: "+15558675310", body: "x" } as never));
    expect([noFrom.status, noFrom.code]).toEqual([400, 21603]);
    const noBody = await rejection(client.messages.create({ to: "+15558675310", from: FROM }));
    expect([noBody.status, noBody.code]).toEqual([400, 21602]);
  });

  it("opted-out recipient → 400 / 21610 until optIn", async () => {
    srv.optOut("+15558675311");
    const e = await rejection(client.messages.create({ to: "+15558675311", from: FROM, body: "hello" }));
    expect([e.status, e.code, e.message]).toEqual([400, 21610, "Attempt to send to unsubscribed recipient"]);
    srv.optIn("+15558675311");
    await expect(client.messages.create({ to: "+15558675311", from: FROM, body: "hello" })).resolves.toMatchObject({ status: "queued" });
  });

  it("wrong auth token → 401 / 20003", async () => {
    const bad = createLocalTwilioClient(SID, "wrong", srv);
    const e = await rejection(bad.messages.create({ to: "+15558675310", from: FROM, body: "x" }));
    expect(e).toBeInstanceOf(twilio.RestException);
    expect([e.status, e.code]).toEqual([401, 20003]);
  });

  it("429 → RestException status 429 / 20429 without autoRetry; autoRetry recovers with one message created", async () => {
    srv.rateLimitNext();
    const e = await rejection(client.messages.create({ to: "+15558675310", from: FROM, body: "x" }));
    expect(e).toBeInstanceOf(twilio.RestException);
    expect([e.status, e.code]).toEqual([429, 20429]);

    const retrying = createLocalTwilioClient(SID, TOKEN, srv, { autoRetry: true, maxRetries: 3, maxRetryDelay: 20 });
    const before = srv.messages.length;
    srv.rateLimitNext({ count: 2 });
    const ok = await retrying.messages.create({ to: "+15558675310", from: FROM, body: "retried" });
    expect(ok.status).toBe("queued");
    expect(srv.messages.length).toBe(before + 1);
    expect(srv.requests.slice(-3).map((r) => r.status)).toEqual([429, 429, 201]);
  });

  it("5xx → RestException with the status", async () => {
    srv.serverErrorNext({ status: 503 });
    const e = await rejection(client.messages.create({ to: "+15558675310", from: FROM, body: "x" }));
    expect([e.status, e.code]).toEqual([503, 20503]);
  });

  it("signTwilioWebhook matches twilio.validateRequest (and the SDK's own signer); tampering fails", () => {
    const url = "https://bot.example.test/webhooks/twilio/sms?tenant=a";
    const params = {
      From: "+15558675310",
      To: FROM,
      Body: "STOP",
      MessageSid: `SM${"3".repeat(32)}`,
      AccountSid: SID,
      MediaUrl: ["b", "a", "b"],
    };
    const sig = signTwilioWebhook(TOKEN, url, params);
    expect(sig).toBe(twilio.getExpectedTwilioSignature(TOKEN, url, params));
    expect(twilio.validateRequest(TOKEN, sig, url, params)).toBe(true);
    expect(twilio.validateRequest(TOKEN, sig, url, { ...params, Body: "START" })).toBe(false);
    expect(twilio.validateRequest(TOKEN, sig, "https://bot.example.test/webhooks/twilio/sms", params)).toBe(false);
    expect(twilio.validateRequest("other", sig, url, params)).toBe(false);
  });

  it("deliverInboundSms POSTs a signed form the receiver validates", async () => {
    const seen: Record<string, string>[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
        const url = `http://127.0.0.1:${port}${req.url}`;
        if (!twilio.validateRequest(TOKEN, String(req.headers["x-twilio-signature"]), url, params)) {
          res.writeHead(403).end();
          return;
        }
        seen.push(params);
        res.writeHead(200, { "content-type": "text/xml" }).end("<Response/>");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const addr = receiver.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    try {
      const url = `http://127.0.0.1:${port}/sms`;
      const ok = await deliverInboundSms(url, TOKEN, { accountSid: SID, from: "+15558675310", to: FROM, body: "STOP" });
      expect(ok.status).toBe(200);
      expect(seen[0]).toMatchObject({ Body: "STOP", From: "+15558675310", To: FROM, AccountSid: SID, NumSegments: "1" });
      const forged = await deliverInboundSms(url, "not-the-token", { accountSid: SID, from: "+15558675310", to: FROM, body: "STOP" });
      expect(forged.status).toBe(403);
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
