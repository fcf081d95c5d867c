// Proves test/helpers/resend-server.ts with the real `resend` SDK (baseUrl) and real Svix/standardwebhooks verifiers.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Resend } from "resend";
import { Webhook } from "svix";
import {
  deliverResendWebhook,
  makeSvixSecret,
  signSvixWebhook,
  startResendServer,
  type ResendServerHandle,
} from "../helpers/resend-server.ts";

const KEY = "re_test_key_123";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("startResendServer + resend SDK 6.38.0", () => {
  let srv: ResendServerHandle;
  let resend: Resend;

  beforeAll(async () => {
    srv = await startResendServer({ apiKey: KEY });
    resend = new Resend(KEY, { baseUrl: srv.url });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("sends an email and returns its id; GET /emails/{id} returns it", async () => {
    const r = await resend.emails.send({
      from: "Tau <bot@tau.example.test>",
      to: ["ops@example.test"],
      subject: "deploy finished",
      text: "deploy 42 finished",
      replyTo: "ops@example.test",
      tags: [{ name: "kind", value: "deploy" }],
    });
    expect(r.error).toBeNull();
    expect(r.data?.id).toMatch(UUID);
    expect(r.headers?.["ratelimit-limit"]).toBe("2");

    const rec = srv.emails.at(-1)!;
    expect(rec.id).toBe(r.data?.id);
    expect(rec.body).toMatchObject({
      from: "Tau <bot@tau.example.test>",
      to: ["ops@example.test"],
      reply_to: "ops@example.test",
      tags: [{ name: "kind", value: "deploy" }],
    });
    expect(rec.headers["authorization"]).toBe(`Bearer ${KEY}`);
    expect(rec.headers["user-agent"]).toBe("resend-node:6.38.0");

    const got = await resend.emails.get(r.data!.id);
    expect(got.error).toBeNull();
    expect(got.data).toMatchObject({
      object: "email",
      id: r.data!.id,
      subject: "deploy finished",
      to: ["ops@example.test"],
      last_event: "sent",
    });
  });

  it("honours Idempotency-Key: same body → same id, different body → 409 invalid_idempotent_request", async () => {
    const payload = { from: "bot@tau.example.test", to: "ops@example.test", subject: "once", text: "only once" };
    const a = await resend.emails.send(payload, { idempotencyKey: "evt-123" });
    const b = await resend.emails.send({ ...payload }, { idempotencyKey: "evt-123" });
    expect(a.data?.id).toMatch(UUID);
    expect(b.data?.id).toBe(a.data?.id);
    expect(srv.emails.filter((e) => e.idempotencyKey === "evt-123")).toHaveLength(1);

    const c = await resend.emails.send({ ...payload, text: "changed" }, { idempotencyKey: "evt-123" });
    expect(c.data).toBeNull();
    expect(c.error).toEqual({
      statusCode: 409,
      name: "invalid_idempotent_request",
      message: "Same idempotency key used with a different request payload.",
    });

    const tooLong = await resend.emails.send(payload, { idempotencyKey: "k".repeat(257) });
    expect(tooLong.error).toMatchObject({ statusCode: 400, name: "invalid_idempotency_key" });
  });

  it("validates: missing field → 422 missing_required_field, malformed address → 422 validation_error", async () => {
    const noSubject = await resend.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", text: "x" } as never);
    expect(noSubject.error).toEqual({ statusCode: 422, name: "missing_required_field", message: "Missing `subject` field." });

    const badTo = await resend.emails.send({ from: "bot@tau.example.test", to: "not-an-address", subject: "s", text: "x" });
    expect(badTo.error).toMatchObject({ statusCode: 422, name: "validation_error" });
    expect(badTo.error?.message).toMatch(/^Invalid `to` field\./);

    const badFrom = await resend.emails.send({ from: "Tau <bot@>", to: "ops@example.test", subject: "s", text: "x" });
    expect(badFrom.error).toMatchObject({ statusCode: 422, name: "validation_error" });
    expect(badFrom.error?.message).toMatch(/^Invalid `from` field\./);
  });

  it("429: error body and retry-after / ratelimit-* headers are readable", async () => {
    srv.rateLimitNext({ retryAfterSeconds: 3 });
    const r = await resend.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", subject: "s", text: "x" });
    expect(r.data).toBeNull();
    expect(r.error).toMatchObject({ statusCode: 429, name: "rate_limit_exceeded" });
    expect(r.headers).toMatchObject({ "retry-after": "3", "ratelimit-limit": "2", "ratelimit-remaining": "0", "ratelimit-reset": "3" });

    // the next request goes through again
    const ok = await resend.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", subject: "s", text: "x" });
    expect(ok.data?.id).toMatch(UUID);
  });

  it("enforces rateLimitPerSecond when configured", async () => {
    const limited = await startResendServer({ apiKey: KEY, rateLimitPerSecond: 2 });
    try {
      const client = new Resend(KEY, { baseUrl: limited.url });
      const send = () => client.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", subject: "s", text: "x" });
      const results = await Promise.all([send(), send(), send()]);
      const statuses = results.map((r) => (r.error ? r.error.statusCode : 200)).sort();
      expect(statuses).toEqual([200, 200, 429]);
      expect(results.find((r) => r.error)?.headers?.["retry-after"]).toBe("1");
    } finally {
      await limited.close();
    }
  });

  it("500: JSON error passes through; a non-JSON 502 becomes application_error", async () => {
    srv.serverErrorNext();
    const r = await resend.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", subject: "s", text: "x" });
    expect(r.error).toMatchObject({ statusCode: 500, name: "internal_server_error" });

    srv.failNext({ status: 502, body: "<html>Bad Gateway</html>" });
    const html = await resend.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", subject: "s", text: "x" });
    expect(html.error).toMatchObject({ statusCode: 502, name: "application_error" });
  });

  it("auth: wrong key → 403 invalid_api_key, missing key → 401 missing_api_key", async () => {
    const wrong = new Resend("re_wrong", { baseUrl: srv.url });
    const r = await wrong.emails.send({ from: "bot@tau.example.test", to: "ops@example.test", subject: "s", text: "x" });
    expect(r.error).toEqual({ statusCode: 403, name: "invalid_api_key", message: "API key is invalid" });

    // the SDK refuses to run without a key, so speak HTTP directly for the missing-header case
    const res = await fetch(`${srv.url}/emails`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ statusCode: 401, name: "missing_api_key" });
  });

  it("signSvixWebhook output verifies with resend.webhooks.verify and svix's Webhook; tampering fails", async () => {
    const secret = makeSvixSecret();
    const rawBody = JSON.stringify({
      type: "email.delivered",
      created_at: "2025-01-06T10:00:00.000Z",
      data: { email_id: "4ef9a417-02e9-4d39-ad75-9611e0fcc33c", to: ["ops@example.test"], subject: "deploy finished" },
    });
    const now = new Date();
    const h = signSvixWebhook(secret, "msg_2a1b", now, rawBody);
    expect(h["svix-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(h["svix-timestamp"]).toBe(String(Math.floor(now.getTime() / 1000)));

    const viaResend = resend.webhooks.verify({
      payload: rawBody,
      headers: { id: h["svix-id"], timestamp: h["svix-timestamp"], signature: h["svix-signature"] },
      webhookSecret: secret,
    });
    expect(viaResend).toMatchObject({ type: "email.delivered" });

    const wh = new Webhook(secret);
    expect(wh.verify(rawBody, { ...h })).toMatchObject({ type: "email.delivered" });
    // identical to svix's own signer
    expect(h["svix-signature"]).toBe(wh.sign("msg_2a1b", new Date(Number(h["svix-timestamp"]) * 1000), rawBody));

    expect(() => wh.verify(rawBody.replace("delivered", "bounced"), { ...h })).toThrow(/No matching signature/);
    const old = signSvixWebhook(secret, "msg_old", Math.floor(Date.now() / 1000) - 600, rawBody);
    expect(() => wh.verify(rawBody, { ...old })).toThrow(/too old/);
  });

  it("deliverResendWebhook POSTs a raw body the receiver can verify", async () => {
    const secret = makeSvixSecret();
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        try {
          new Webhook(secret).verify(raw, {
            "svix-id": String(req.headers["svix-id"]),
            "svix-timestamp": String(req.headers["svix-timestamp"]),
            "svix-signature": String(req.headers["svix-signature"]),
          });
          received.push(raw);
          res.writeHead(204).end();
        } catch {
          res.writeHead(400).end("bad signature");
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const addr = receiver.address();
    const url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/webhooks/resend`;
    try {
      const ok = await deliverResendWebhook(url, secret, { type: "email.bounced", data: { email_id: "e1" } });
      expect(ok.status).toBe(204);
      expect(received).toEqual([ok.rawBody]);
      const bad = await deliverResendWebhook(url, makeSvixSecret(), { type: "email.bounced" });
      expect(bad.status).toBe(400);
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
