/** @module Tests for the pure WhatsApp Cloud API normalizer over fixtures/raw/whatsapp and generated bodies. */
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeWhatsAppWebhook } from "../../../connectors/whatsapp/normalize.ts";
import { EnvelopeSchema } from "../../../src/contracts/envelope.ts";
import type { Envelope, NormalizeContext, NormalizeResult } from "../../../src/contracts/envelope.ts";
import { TEST_IDENTITY } from "../../helpers/identity.ts";
import { mutatedFixture } from "../../helpers/mutate-json.ts";

const RECEIVED_AT = 1763712000412;
/** fc.anything with the shapes JSON cannot produce but an `unknown` argument can: sparse arrays, null prototypes, boxed values. */
const JUNK_OPTIONS = { withSparseArray: true, withNullPrototype: true, withBoxedValues: true, withObjectString: true } as const;
const ctx: NormalizeContext = { identity: TEST_IDENTITY, receivedAtMs: RECEIVED_AT };
const PNID = "106540352242922";
const SOURCE_META = { phone_number_id: PNID, display_phone_number: "15550783881", waba_id: "102290129340398" };
const BUSINESS_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4QjZGQkI5QkE3QjE5OTM1NzgA";
const OUR_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";

function load(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/raw/whatsapp/${name}`, import.meta.url), "utf8"));
}

function ok(result: NormalizeResult): Extract<NormalizeResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.detail}`);
  return result;
}

function envelopes(name: string, context: NormalizeContext = ctx): Envelope[] {
  return ok(normalizeWhatsAppWebhook(load(name), context)).envelopes;
}

function one(name: string): Envelope {
  const list = envelopes(name);
  expect(list).toHaveLength(1);
  return list[0] as Envelope;
}

/** A body with one `messages` change holding `value`. */
function bodyWith(value: Record<string, unknown>): unknown {
  return {
    object: "whatsapp_business_account",
    entry: [
      { id: "1", changes: [{ field: "messages", value: { metadata: { display_phone_number: "1", phone_number_id: PNID }, ...value } }] },
    ],
  };
}

describe("normalizeWhatsAppWebhook: messages", () => {
  it("normalizes a text message into the full envelope", () => {
    expect(one("text.json")).toEqual({
      v: 1,
      event_id: "whatsapp:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDMTIzNDU2Nzg5MA==",
      transport: "whatsapp",
      provider: "whatsapp-cloud",
      account_id: "106540352242922",
      kind: "message",
      conversation_id: "16505551234",
      thread_id: null,
      chat_type: "dm",
      actor: { id: "16505551234", display: "Sheena Nelson", is_bot: false },
      mentions_bot: true,
      text: "/tau status",
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: 1763712000000,
      received_at_ms: 1763712000412,
      meta: { message_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDMTIzNDU2Nzg5MA==", message_type: "text", ...SOURCE_META },
    });
  });

  it("keeps non-ASCII text exactly", () => {
    expect(one("non-ascii-text.json").text).toBe("Olá, café ☕ — статус? 👨‍👩‍👧‍👦 日本語");
  });

  it("maps media with the media id as ref and never the signed url", () => {
    const image = one("image.json");
    expect(image.text).toBe("disk graph");
    expect(image.attachments).toEqual([{ kind: "image", mime: "image/jpeg", size: null, name: null, ref: "1479537139650973" }]);
    expect(JSON.stringify(image)).not.toContain("lookaside");
    expect(one("audio-voice.json").attachments).toEqual([
      { kind: "voice", mime: "audio/ogg; codecs=opus", size: null, name: null, ref: "1003383421387256" },
    ]);
    const doc = one("document.json");
    expect(doc.text).toBe("March invoice");
    expect(doc.attachments).toEqual([
      { kind: "document", mime: "application/pdf", size: null, name: "invoice-2025-03.pdf", ref: "2223344556677889" },
    ]);
  });

  it("maps an audio without the voice flag to kind audio", () => {
    const raw = bodyWith({
      messages: [{ from: "1", id: "wamid.A", timestamp: "1", type: "audio", audio: { id: "9", mime_type: "audio/mpeg" } }],
    });
    expect(ok(normalizeWhatsAppWebhook(raw, ctx)).envelopes[0]?.attachments[0]?.kind).toBe("audio");
  });

  it("maps a reply-button tap to a callback (text = the button id, the callback envelope contract) and a list reply to its title", () => {
    const button = one("interactive-button-reply.json");
    expect(button.kind).toBe("callback");
    expect(button.text).toBe("approve:ap_7Q2K");
    expect(button.reply_to).toBe(BUSINESS_WAMID);
    expect(button.meta.reply_id).toBe("approve:ap_7Q2K");
    expect(button.meta.button_title).toBe("Approve");
    expect(button.meta.prompt_message_id).toBe(BUSINESS_WAMID);
    expect(button.meta.interactive_type).toBe("button_reply");
    const list = one("interactive-list-reply.json");
    expect(list.text).toBe("Staging");
    expect(list.meta.reply_id).toBe("env:staging");
  });

  it("maps a template quick-reply button to its text with meta.payload", () => {
    const env = one("button.json");
    expect(env.text).toBe("Stop alerts");
    expect(env.meta.payload).toBe("STOP_ALERTS");
    expect(env.reply_to).toBe(BUSINESS_WAMID);
  });

  it("maps reactions and reaction removals", () => {
    const added = one("reaction.json");
    expect(added.kind).toBe("reaction");
    expect(added.reply_to).toBe(BUSINESS_WAMID);
    expect(added.meta.emoji).toBe("👍");
    const removed = one("reaction-removal.json");
    expect(removed.kind).toBe("reaction");
    expect(removed.meta.emoji).toBeNull();
    expect(removed.text).toBe("");
  });

  it("maps location and contacts to attachments", () => {
    const place = one("location.json");
    expect(place.attachments).toEqual([{ kind: "location", mime: null, size: null, name: "Data Center Lisbon", ref: null }]);
    expect(place.meta.latitude).toBe(38.7223);
    expect(place.meta.longitude).toBe(-9.1393);
    expect(one("contacts.json").attachments).toEqual([{ kind: "contact", mime: null, size: null, name: "On-call Engineer", ref: null }]);
  });

  it("marks forwarded messages", () => {
    expect(one("forwarded-text.json").forwarded).toBe(true);
  });

  it("maps unsupported and system messages to kind system", () => {
    const unsupported = one("unsupported.json");
    expect(unsupported.kind).toBe("system");
    expect(unsupported.meta.unsupported_type).toBe("edit");
    expect(unsupported.meta.error_code).toBe(131051);
    const system = one("system.json");
    expect(system.kind).toBe("system");
    expect(system.text).toBe("Sheena Nelson changed their phone number to a new number 16505550000.");
    expect(system.meta.system_type).toBe("user_changed_number");
    expect(system.meta.new_wa_id).toBe("16505550000");
  });

  it("maps an unknown message type to system with its type", () => {
    const raw = bodyWith({ messages: [{ from: "1", id: "wamid.O", timestamp: "1", type: "order", order: { catalog_id: "c" } }] });
    const env = ok(normalizeWhatsAppWebhook(raw, ctx)).envelopes[0];
    expect(env?.kind).toBe("system");
    expect(env?.meta.unsupported_type).toBe("order");
  });
});

describe("normalizeWhatsAppWebhook: statuses, errors, batches", () => {
  it("maps each status to its own event keyed by wamid and status", () => {
    const list = envelopes("statuses.json");
    expect(list.map((e) => [e.event_id, e.kind, e.occurred_at_ms])).toEqual([
      [`whatsapp:${OUR_WAMID}:sent`, "status", 1763712200000],
      [`whatsapp:${OUR_WAMID}:delivered`, "status", 1763712201000],
      [`whatsapp:${OUR_WAMID}:read`, "status", 1763712260000],
    ]);
    expect(list[2]?.conversation_id).toBe("16505551234");
    expect(list[2]?.meta).toEqual({ status: "read", message_id: OUR_WAMID, recipient_id: "16505551234", ...SOURCE_META });
  });

  it("carries the error code of a failed status", () => {
    const env = one("status-failed.json");
    expect(env.event_id).toBe("whatsapp:wamid.HBgLMTY1MDU1NTk4NzYVAgARGBJGQUlMRUQxMjM0NTY3ODkA:failed");
    expect(env.meta.status).toBe("failed");
    expect(env.meta.error_code).toBe(131047);
    expect(env.meta.recipient_id).toBe("16505559876");
  });

  it("maps value.errors to system events with content-derived, stable ids", () => {
    const list = envelopes("value-errors.json");
    expect(list.map((e) => e.event_id)).toEqual([
      "whatsapp:error:106540352242922:130429:rate-limit-hit:afe7ed7c",
      "whatsapp:error:106540352242922:131000:something-went-wrong:cc40e3f4",
    ]);
    expect(list[0]).toMatchObject({
      kind: "system",
      conversation_id: PNID,
      actor: { id: null, display: null, is_bot: false },
      occurred_at_ms: RECEIVED_AT,
      meta: { error_code: 130429, error_title: "Rate limit hit", ...SOURCE_META },
    });
    const later = envelopes("value-errors.json", { ...ctx, receivedAtMs: RECEIVED_AT + 60_000 });
    expect(later.map((e) => e.event_id)).toEqual(list.map((e) => e.event_id));
  });

  it("uses an error's own timestamp in its id and time when present", () => {
    const raw = bodyWith({ errors: [{ code: 131000, title: "Something went wrong", timestamp: "1763712500" }] });
    const env = ok(normalizeWhatsAppWebhook(raw, ctx)).envelopes[0];
    expect(env?.event_id.startsWith("whatsapp:error:106540352242922:131000:1763712500:something-went-wrong:")).toBe(true);
    expect(env?.occurred_at_ms).toBe(1763712500000);
  });

  it("walks every entry and change, routing by each change's phone_number_id", () => {
    const result = ok(normalizeWhatsAppWebhook(load("multi-entry.json"), ctx));
    expect(result.envelopes.map((e) => [e.event_id, e.account_id, e.kind, e.actor.display])).toEqual([
      ["whatsapp:wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzTVVMVEkxMTExMTExMQ==", "106540352242922", "message", "Sheena Nelson"],
      ["whatsapp:wamid.HBgLMTY1MDU1NTk4NzYVAgASGBRNVUxUSTIyMjIyMjIyMgA=", "106540352242922", "message", "Raj Patel"],
      [`whatsapp:${OUR_WAMID}:delivered`, "106540352242922", "status", null],
      [`whatsapp:${OUR_WAMID}:read`, "106540352242922", "status", null],
      ["whatsapp:wamid.HBgLMTY1MDU1NTk4NzYVAgASGBRNVUxUSTMzMzMzMzMzMwA=", "106540352242999", "message", "Raj Patel"],
    ]);
    expect(result.ignored).toEqual([{ code: "whatsapp_change_field_unsupported", detail: "entry.1.changes.1: field account_update" }]);
  });

  it("includes the raw item only with keepRaw", () => {
    expect(one("text.json").raw).toBeUndefined();
    const [env] = envelopes("text.json", { ...ctx, keepRaw: true });
    expect(env?.raw).toEqual({
      from: "16505551234",
      id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDMTIzNDU2Nzg5MA==",
      timestamp: "1763712000",
      type: "text",
      text: { body: "/tau status" },
    });
  });
});

describe("normalizeWhatsAppWebhook: refusals", () => {
  it("refuses missing ids with their path", () => {
    const noFrom = bodyWith({ messages: [{ id: "wamid.X", timestamp: "1", type: "text", text: { body: "hi" } }] });
    expect(normalizeWhatsAppWebhook(noFrom, ctx)).toEqual({
      ok: false,
      code: "ingress_missing_id",
      detail: "entry.0.changes.0.value.messages.0.from: missing",
    });
    const noRecipient = bodyWith({ statuses: [{ id: "wamid.X", status: "sent", timestamp: "1" }] });
    expect(normalizeWhatsAppWebhook(noRecipient, ctx)).toEqual({
      ok: false,
      code: "ingress_missing_id",
      detail: "entry.0.changes.0.value.statuses.0.recipient_id: missing",
    });
    const noPnid = bodyWith({ metadata: { display_phone_number: "1" }, messages: [] });
    expect(normalizeWhatsAppWebhook(noPnid, ctx)).toEqual({
      ok: false,
      code: "ingress_missing_id",
      detail: "entry.0.changes.0.value.metadata.phone_number_id: missing",
    });
  });

  it("refuses malformed payloads with their path", () => {
    const noText = bodyWith({ messages: [{ from: "1", id: "wamid.X", timestamp: "1", type: "text" }] });
    expect(normalizeWhatsAppWebhook(noText, ctx)).toEqual({
      ok: false,
      code: "ingress_payload_invalid",
      detail: "entry.0.changes.0.value.messages.0.text: required for type text",
    });
    const badTime = bodyWith({ messages: [{ from: "1", id: "wamid.X", timestamp: "soon", type: "text", text: { body: "x" } }] });
    expect(normalizeWhatsAppWebhook(badTime, ctx)).toEqual({
      ok: false,
      code: "ingress_payload_invalid",
      detail: "entry.0.changes.0.value.messages.0.timestamp: expected unix seconds as a digit string",
    });
    expect(normalizeWhatsAppWebhook({ object: "page", entry: [] }, ctx)).toMatchObject({ ok: false, code: "ingress_payload_invalid" });
  });
});

describe("normalizeWhatsAppWebhook: every fixture", () => {
  const dir = new URL("../../../fixtures/raw/whatsapp/", import.meta.url);
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .sort();

  it("has the fixtures this suite relies on", () => {
    expect(names.length).toBeGreaterThanOrEqual(19);
  });

  // Not unique across files: multi-entry.json redelivers receipts that statuses.json also holds.
  it("normalizes each fixture to schema-valid envelopes with per-payload unique event ids", () => {
    for (const name of names) {
      const result = normalizeWhatsAppWebhook(load(name), ctx);
      expect(result.ok, name).toBe(true);
      if (!result.ok) continue;
      for (const env of result.envelopes) EnvelopeSchema.parse(env);
      const own = result.envelopes.map((e) => e.event_id);
      expect(new Set(own).size, name).toBe(own.length);
    }
  });

  it("refuses a reply button whose id is longer than an envelope's text can be (found by the property below)", () => {
    const raw = structuredClone(load("interactive-button-reply.json")) as {
      entry: { changes: { value: { messages: { interactive: { button_reply: { id: string } } }[] } }[] }[];
    };
    raw.entry[0]!.changes[0]!.value.messages[0]!.interactive.button_reply.id = "x".repeat(70_000);
    const result = normalizeWhatsAppWebhook(raw, ctx);
    if (result.ok) for (const env of result.envelopes) EnvelopeSchema.parse(env);
    else expect(result.code).not.toBe("ingress_envelope_invalid");
    expect(result.ok && result.envelopes.length > 0).toBe(false);
  });

  it("never throws or builds an invalid envelope when one fixture field is mutated", () => {
    fc.assert(
      fc.property(mutatedFixture(names.map(load)), (raw) => {
        const result = normalizeWhatsAppWebhook(raw, ctx);
        if (!result.ok) expect(result.code).not.toBe("ingress_envelope_invalid");
        else for (const env of result.envelopes) EnvelopeSchema.parse(env);
      }),
      { numRuns: 500 },
    );
  });
});

describe("normalizeWhatsAppWebhook: properties", () => {
  const wamid = fc
    .string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), minLength: 8, maxLength: 60 })
    .map((s) => `wamid.${s}`);
  const waId = fc.stringMatching(/^[1-9]\d{7,14}$/);
  const seconds = fc.integer({ min: 0, max: 99_999_999_999 }).map(String);
  const message = fc.oneof(
    fc.record({ type: fc.constant("text"), text: fc.record({ body: fc.string({ unit: "grapheme", maxLength: 300 }) }) }),
    fc.record({ type: fc.constant("image"), image: fc.record({ id: fc.string({ minLength: 1 }), mime_type: fc.constant("image/jpeg") }) }),
    fc.record({
      type: fc.constant("reaction"),
      reaction: fc.record({ message_id: wamid, emoji: fc.option(fc.string(), { nil: undefined }) }),
    }),
    fc.record({ type: fc.constant("button"), button: fc.record({ text: fc.string(), payload: fc.string() }) }),
    fc.record({ type: fc.constant("unsupported"), unsupported: fc.record({ type: fc.string() }) }),
  );
  const inbound = fc.record({ from: waId, id: wamid, timestamp: seconds, part: message }).map(({ part, ...m }) => ({ ...m, ...part }));
  const status = fc.record({
    id: wamid,
    status: fc.constantFrom("sent", "delivered", "read", "failed"),
    timestamp: seconds,
    recipient_id: waId,
  });

  it("always yields envelopes that pass EnvelopeSchema", () => {
    fc.assert(
      fc.property(fc.array(inbound, { maxLength: 5 }), fc.array(status, { maxLength: 5 }), (messages, statuses) => {
        const result = ok(normalizeWhatsAppWebhook(bodyWith({ messages, statuses }), ctx));
        expect(result.envelopes).toHaveLength(messages.length + statuses.length);
        for (const env of result.envelopes) EnvelopeSchema.parse(env);
      }),
    );
  });

  it("keeps event_ids stable when the same body is redelivered later", () => {
    const error = fc.record({ code: fc.integer({ min: 0, max: 999_999 }), title: fc.string(), message: fc.string() });
    fc.assert(
      fc.property(
        fc.array(inbound, { maxLength: 3 }),
        fc.array(error, { maxLength: 3 }),
        fc.nat(),
        fc.nat(),
        (messages, errors, t1, t2) => {
          const raw = bodyWith({ messages, errors });
          const a = ok(normalizeWhatsAppWebhook(raw, { ...ctx, receivedAtMs: t1 })).envelopes.map((e) => e.event_id);
          const b = ok(normalizeWhatsAppWebhook(raw, { ...ctx, receivedAtMs: t2 })).envelopes.map((e) => e.event_id);
          expect(b).toEqual(a);
        },
      ),
    );
  });

  it("gives distinct wamids distinct event_ids", () => {
    fc.assert(
      fc.property(fc.uniqueArray(wamid, { minLength: 2, maxLength: 20 }), inbound, (ids, m) => {
        const result = ok(normalizeWhatsAppWebhook(bodyWith({ messages: ids.map((id) => ({ ...m, id })) }), ctx));
        expect(new Set(result.envelopes.map((e) => e.event_id)).size).toBe(ids.length);
      }),
    );
  });

  it("never throws on junk: returns ok true or false", () => {
    const junk = fc.oneof(
      fc.anything(JUNK_OPTIONS),
      fc.record({ object: fc.constant("whatsapp_business_account"), entry: fc.array(fc.anything()) }),
      fc.record({ messages: fc.array(fc.object()), statuses: fc.anything(), errors: fc.array(fc.anything()) }).map(bodyWith),
    );
    fc.assert(
      fc.property(junk, (raw) => {
        expect(typeof normalizeWhatsAppWebhook(raw, ctx).ok).toBe("boolean");
      }),
    );
  });
});
