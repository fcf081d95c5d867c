/**
 * WhatsApp replies to the recipients the Cloud API takes besides a phone (PROVIDERS.md §10.3.3–10.3.4), through the
 * real axios sender against the local Graph server: a business-scoped user id goes in `recipient` (no `to`), a
 * group is `recipient_type: "group"` with the group id in `to`. The server refuses what Graph refuses: neither `to`
 * nor `recipient` is Graph's "(#100) The parameter to is required." envelope; a group takes no interactive message.
 */
import axios from "axios";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChunkJob, ReplyTarget } from "../../src/contracts/outbound.ts";
import { createWhatsAppSender } from "../../connectors/whatsapp/sender.ts";
import { startWhatsAppGraphServer, type WhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";

/** Ids as in PROVIDERS.md §10.3.3 (Meta's BSUID example) and pywa's group example (an opaque string). */
const BSUID = "US.13491208655302741918";
const GROUP = "Y2FwaV9ncm91cDoxNTU1MDc4Mzg4MToxMjAzNjMwMjU5MjI5NTQ5NzA";
const PHONE = "16505551234";

let s: WhatsAppGraphServer;
beforeEach(async () => {
  s = await startWhatsAppGraphServer();
});
afterEach(async () => {
  await s.close();
});

const sender = () =>
  createWhatsAppSender({ apiRoot: `${s.url}/v23.0`, token: () => s.accessToken, phoneNumberId: () => null, timeoutMs: 2000 });
const job = (conversation_id: string, extra: Partial<ReplyTarget> = {}): ChunkJob => ({
  outbox_id: "o1",
  idx: 0,
  chunk_count: 1,
  text: "Deploy 42 is done.",
  target: { transport: "whatsapp", account_id: s.phoneNumberId, conversation_id, thread_id: null, reply_to: null, ...extra },
});
/** What the wire carried for the last POST (the exact JSON the sender sent). */
const lastBody = () => JSON.parse(s.requests.at(-1)!.rawBody) as Record<string, unknown>;

describe("replies through the real sender", () => {
  it("to a business-scoped user id: `recipient`, no `to`; Graph answers contacts[].user_id", async () => {
    s.recordInbound(BSUID);
    const r = await sender().send(job(BSUID, { chat_type: "dm" }));
    expect(r).toMatchObject({ ok: true, provider_message_id: expect.stringMatching(/^wamid\./) });
    expect(lastBody()).toEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      recipient: BSUID,
      type: "text",
      text: { preview_url: false, body: "Deploy 42 is done." },
    });
    expect(s.requests.at(-1)!.response).toMatchObject({ contacts: [{ input: BSUID, user_id: BSUID }] });
    expect(s.sentMessages.map((m) => [m.to, m.userId, m.waId, m.recipient_type, m.text])).toEqual([
      [BSUID, BSUID, "", "individual", "Deploy 42 is done."],
    ]);
  });

  it("to a group: recipient_type group with the group id in `to`", async () => {
    s.recordInbound(GROUP);
    const r = await sender().send(job(GROUP, { chat_type: "group", reply_to: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDQzQ0" }));
    expect(r).toMatchObject({ ok: true });
    expect(lastBody()).toMatchObject({
      recipient_type: "group",
      to: GROUP,
      type: "text",
      context: { message_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDQzQ0" },
    });
    expect(lastBody()).not.toHaveProperty("recipient");
    expect(s.sentMessages.map((m) => [m.to, m.recipient_type, m.userId])).toEqual([[GROUP, "group", undefined]]);
  });

  it("the customer-service window is per addressee: a BSUID or group that never wrote gets 131047", async () => {
    s.recordInbound(PHONE);
    expect(await sender().send(job(BSUID))).toMatchObject({ ok: false, code: "delivery_window_closed" });
    expect(await sender().send(job(GROUP, { chat_type: "group" }))).toMatchObject({ ok: false, code: "delivery_window_closed" });
    expect(await sender().send(job(PHONE))).toMatchObject({ ok: true });
    expect(s.sentMessages.map((m) => m.to)).toEqual([PHONE]);
  });
});

describe("what the local Graph server refuses, as Graph does", () => {
  const post = (body: Record<string, unknown>) =>
    axios.post(`${s.url}/v23.0/${s.phoneNumberId}/messages`, body, {
      headers: { authorization: `Bearer ${s.accessToken}` },
      validateStatus: () => true,
    });
  const text = { messaging_product: "whatsapp", type: "text", text: { body: "hi" } };

  it("neither `to` nor `recipient`: 400 (#100) The parameter to is required.", async () => {
    s.recordInbound(BSUID);
    for (const body of [text, { ...text, recipient: "" }, { ...text, recipient_type: "group", recipient: BSUID }]) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.data).toEqual({
        error: {
          message: "(#100) The parameter to is required.",
          type: "OAuthException",
          code: 100,
          fbtrace_id: expect.any(String),
        },
      });
    }
    expect(s.sentMessages).toEqual([]);
  });

  it("`to` wins when both are sent; `recipient` takes only a business-scoped user id", async () => {
    s.recordInbound(PHONE);
    expect((await post({ ...text, to: PHONE, recipient: BSUID })).status).toBe(200);
    expect(s.sentMessages.map((m) => [m.to, m.waId])).toEqual([[PHONE, PHONE]]);
    const r = await post({ ...text, recipient: PHONE });
    expect(r.status).toBe(400);
    expect(r.data.error).toMatchObject({
      code: 100,
      error_data: { details: "Param recipient must be a business-scoped user id (CC.<id>)." },
    });
  });

  it("a group takes no interactive message; an unknown recipient_type is refused", async () => {
    s.recordInbound(GROUP);
    const interactive = {
      messaging_product: "whatsapp",
      recipient_type: "group",
      to: GROUP,
      type: "interactive",
      interactive: {
        type: "button",
        body: { text: "Approve?" },
        action: { buttons: [{ type: "reply", reply: { id: "ap:1", title: "Approve" } }] },
      },
    };
    const r = await post(interactive);
    expect(r.status).toBe(400);
    expect(r.data.error).toMatchObject({ code: 131009 });
    const odd = await post({ ...text, to: PHONE, recipient_type: "broadcast" });
    expect(odd.status).toBe(400);
    expect(odd.data.error).toMatchObject({ code: 100 });
    expect(s.sentMessages).toEqual([]);
  });
});
