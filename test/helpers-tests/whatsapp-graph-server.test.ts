/** Proves the local WhatsApp Graph server works with a real axios client, and the webhook helpers sign raw bodies (PROVIDERS.md §3, §5). */
import http from "node:http";
import crypto from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import axios, { AxiosError, type AxiosInstance } from "axios";
import {
  deliverWebhook,
  inboundMessage,
  signWebhook,
  startWhatsAppGraphServer,
  statusUpdate,
  verifyWebhook,
  webhookBody,
  type WhatsAppGraphServer,
} from "../helpers/whatsapp-graph-server.ts";

const TOKEN = "EAAGtauTestAccessToken0123456789";
const PNID = "106540352242922";
const USER = "16505551234";

let server: WhatsAppGraphServer;
let graph: AxiosInstance;
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  server = await startWhatsAppGraphServer();
  graph = axios.create({ baseURL: `${server.url}/v23.0`, headers: { Authorization: `Bearer ${TOKEN}` } });
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await server.close();
});

async function axiosError(p: Promise<unknown>): Promise<AxiosError<{ error: Record<string, unknown> }>> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AxiosError);
  return e as AxiosError<{ error: Record<string, unknown> }>;
}
const text = (body: string, to = USER) => ({
  messaging_product: "whatsapp",
  recipient_type: "individual",
  to,
  type: "text",
  text: { preview_url: false, body },
});

describe("whatsapp graph server with axios", () => {
  it("sends a text message inside the 24-hour window", async () => {
    server.recordInbound(USER);
    const r = await graph.post(`/${PNID}/messages`, text("hello from tau", `+${USER}`));
    expect(r.status).toBe(200);
    expect(r.data).toEqual({
      messaging_product: "whatsapp",
      contacts: [{ input: "+16505551234", wa_id: "16505551234" }],
      messages: [{ id: expect.stringMatching(/^wamid\./) }],
    });
    expect(server.sentMessages).toHaveLength(1);
    expect(server.sentMessages[0]).toMatchObject({
      phoneNumberId: PNID,
      to: "+16505551234",
      waId: "16505551234",
      type: "text",
      text: "hello from tau",
      id: r.data.messages[0].id,
    });
    expect(server.requests[0]!.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
  });

  it("answers 131047 outside the customer-service window, but lets templates through", async () => {
    const err = await axiosError(graph.post(`/${PNID}/messages`, text("too late")));
    expect(err.response?.status).toBe(400);
    expect(err.response?.data).toEqual({
      error: {
        message: "(#131047) Re-engagement message",
        type: "OAuthException",
        code: 131047,
        error_data: {
          messaging_product: "whatsapp",
          details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        },
        fbtrace_id: expect.stringMatching(/^A/),
      },
    });
    server.recordInbound(USER);
    await expect(graph.post(`/${PNID}/messages`, text("now ok"))).resolves.toMatchObject({ status: 200 });
    server.advanceTime(24 * 3600 * 1000 + 1);
    expect((await axiosError(graph.post(`/${PNID}/messages`, text("expired")))).response?.data.error["code"]).toBe(131047);
    const tpl = await graph.post(`/${PNID}/messages`, {
      messaging_product: "whatsapp",
      to: USER,
      type: "template",
      template: { name: "hello_world", language: { code: "en_US" } },
    });
    expect(tpl.data.messages[0].message_status).toBe("accepted");
  });

  it("requires the Bearer token (190) and reports expired tokens", async () => {
    const anon = axios.create({ baseURL: `${server.url}/v23.0` });
    const err = await axiosError(anon.post(`/${PNID}/messages`, text("x")));
    expect(err.response?.status).toBe(401);
    expect(err.response?.data).toEqual({
      error: {
        message: "Invalid OAuth access token - Cannot parse access token",
        type: "OAuthException",
        code: 190,
        fbtrace_id: expect.any(String),
      },
    });
    server.expireToken(TOKEN);
    const expired = await axiosError(graph.get(`/${PNID}`));
    expect(expired.response?.data.error).toMatchObject({ code: 190, error_subcode: 463, type: "OAuthException" });
  });

  it("validates the body: messaging_product, to, text.body length", async () => {
    server.recordInbound(USER);
    const noProduct = await axiosError(graph.post(`/${PNID}/messages`, { to: USER, type: "text", text: { body: "x" } }));
    expect(noProduct.response?.data.error).toMatchObject({ code: 100, message: "(#100) The parameter messaging_product is required." });
    const noTo = await axiosError(graph.post(`/${PNID}/messages`, { messaging_product: "whatsapp", type: "text", text: { body: "x" } }));
    expect(noTo.response?.data.error).toMatchObject({ code: 100, message: "(#100) The parameter to is required." });
    await expect(graph.post(`/${PNID}/messages`, text("é".repeat(4096)))).resolves.toMatchObject({ status: 200 });
    const long = await axiosError(graph.post(`/${PNID}/messages`, text("é".repeat(4097))));
    expect(long.response?.status).toBe(400);
    expect(long.response?.data.error).toMatchObject({
      message: "(#100) Invalid parameter",
      code: 100,
      error_data: { messaging_product: "whatsapp", details: "Param text['body'] must be at most 4096 characters long." },
    });
    const unknownNumber = await axiosError(graph.post(`/999/messages`, text("x")));
    expect(unknownNumber.response?.data.error).toMatchObject({ code: 100, error_subcode: 33 });
  });

  it("marks messages as read and serves phone number info", async () => {
    const r = await graph.post(`/${PNID}/messages`, {
      messaging_product: "whatsapp",
      status: "read",
      message_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDQzQ0",
      typing_indicator: { type: "text" },
    });
    expect(r.data).toEqual({ success: true });
    expect(server.readReceipts).toEqual([
      { phoneNumberId: PNID, message_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDQzQ0", typing_indicator: { type: "text" } },
    ]);
    const info = await graph.get(`/${PNID}`);
    expect(info.data).toEqual({
      verified_name: "Tau Test",
      code_verification_status: "VERIFIED",
      display_phone_number: "15550783881",
      quality_rating: "GREEN",
      platform_type: "CLOUD_API",
      throughput: { level: "STANDARD" },
      id: "106540352242922",
    });
  });

  it("downloads media in two authenticated steps and expires the URL", async () => {
    const stored = server.addMedia({ id: "1234567890123456", content: "abc", mime_type: "image/jpeg" });
    expect(stored).toEqual({
      id: "1234567890123456",
      mime_type: "image/jpeg",
      sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      file_size: 3,
    });
    const meta = await graph.get(`/1234567890123456`);
    expect(meta.data).toMatchObject({
      messaging_product: "whatsapp",
      mime_type: "image/jpeg",
      sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      file_size: 3,
      id: "1234567890123456",
    });
    const mediaUrl = meta.data.url as string;
    expect(mediaUrl.startsWith(`${server.url}/media/1234567890123456?`)).toBe(true);
    const file = await graph.get(mediaUrl, { responseType: "arraybuffer" });
    expect([file.status, file.headers["content-type"], Buffer.from(file.data as ArrayBuffer).toString()]).toEqual([
      200,
      "image/jpeg",
      "abc",
    ]);
    const anon = await axiosError(axios.get(mediaUrl));
    expect(anon.response?.status).toBe(401);
    server.advanceTime(5 * 60_000 + 1);
    expect((await axiosError(graph.get(mediaUrl))).response?.status).toBe(404);
  });

  it("injects 131056, 130429, 5xx and connection resets", async () => {
    server.recordInbound(USER);
    server.failNextWithCode(131056, { match: "/messages" });
    const pair = await axiosError(graph.post(`/${PNID}/messages`, text("a")));
    expect(pair.response?.status).toBe(400);
    expect(pair.response?.data.error).toMatchObject({
      code: 131056,
      message: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    });
    server.failNextWithCode(130429, { match: "/messages", status: 429 });
    const tput = await axiosError(graph.post(`/${PNID}/messages`, text("b")));
    expect([tput.response?.status, tput.response?.data.error["code"]]).toEqual([429, 130429]);
    server.failNext({ status: 503 });
    const down = await axiosError(graph.post(`/${PNID}/messages`, text("c")));
    expect([down.response?.status, down.response?.data.error["code"]]).toEqual([503, 1]);
    server.resetNext({ match: "/messages" });
    const reset = await axiosError(graph.post(`/${PNID}/messages`, text("d")));
    expect(reset.response).toBeUndefined();
    expect(reset.code).toBe("ECONNRESET");
    expect(server.sentMessages).toHaveLength(0);
    await expect(graph.post(`/${PNID}/messages`, text("e"))).resolves.toMatchObject({ status: 200 });
  });

  it("signs webhook bodies over the raw bytes with escaped unicode", async () => {
    expect(signWebhook("tau-app-secret", '{"object":"whatsapp_business_account"}')).toBe(
      "sha256=02ff95bdc398f574e06bfa386710240930d8d3acc6ada0c658e692126d295878",
    );
    const raw = webhookBody({
      messages: [inboundMessage({ from: USER, id: "wamid.IN1", timestamp: 1749416383, text: "café 😀" })],
      statuses: [statusUpdate({ id: "wamid.OUT1", status: "read", recipient_id: USER, timestamp: 1749416390 })],
    });
    expect(raw).toContain('"body":"caf\\u00e9 \\ud83d\\ude00"');
    expect(JSON.parse(raw)).toEqual({
      object: "whatsapp_business_account",
      entry: [
        {
          id: "102290129340398",
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
                contacts: [{ profile: { name: "User 1234" }, wa_id: "16505551234" }],
                messages: [{ from: "16505551234", id: "wamid.IN1", timestamp: "1749416383", type: "text", text: { body: "café 😀" } }],
                statuses: [{ id: "wamid.OUT1", status: "read", timestamp: "1749416390", recipient_id: "16505551234" }],
              },
            },
          ],
        },
      ],
    });

    // A receiver that verifies the HMAC over the raw bytes, and answers the GET handshake.
    const received: { ok: boolean; raw: string }[] = [];
    const hook = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (req.method === "GET") {
        const ok = url.searchParams.get("hub.mode") === "subscribe" && url.searchParams.get("hub.verify_token") === "verify-me";
        res.writeHead(ok ? 200 : 403).end(ok ? url.searchParams.get("hub.challenge") : "");
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const expected = Buffer.from(`sha256=${crypto.createHmac("sha256", "tau-app-secret").update(body).digest("hex")}`);
        const got = Buffer.from(String(req.headers["x-hub-signature-256"]));
        const ok = got.length === expected.length && crypto.timingSafeEqual(got, expected);
        received.push({ ok, raw: body.toString() });
        res.writeHead(ok ? 200 : 401).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          hook.closeAllConnections();
          hook.close(() => r());
        }),
    );
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/wa`;
    expect(await deliverWebhook(hookUrl, raw, "tau-app-secret")).toEqual({ status: 200, text: "" });
    expect(await deliverWebhook(hookUrl, raw, "other-secret")).toEqual({ status: 401, text: "" });
    expect(received.map((r) => [r.ok, r.raw === raw])).toEqual([
      [true, true],
      [false, true],
    ]);
    expect(await verifyWebhook(hookUrl, "verify-me", "42")).toEqual({ status: 200, text: "42" });
    expect(await verifyWebhook(hookUrl, "wrong", "42")).toEqual({ status: 403, text: "" });
  });
});
