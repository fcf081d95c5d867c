/** @module Tests for the pure email normalizer: written-out envelopes for real-shaped messages, refusals, and fast-check properties. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_EMAIL_BODY_CHARS, normalizeEmail, type EmailItem } from "../../connectors/email/normalize.ts";
import type { FetchedMail } from "../../connectors/shared/mail-port.ts";
import { EnvelopeSchema, type Envelope, type NormalizeContext, type NormalizeResult } from "../../src/contracts/envelope.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";

const RECEIVED_AT = 1763712000412;
const ctx: NormalizeContext = { identity: TEST_IDENTITY, receivedAtMs: RECEIVED_AT };

/** What mailparser gave for a plain reply with a PDF and an inline image (see imap-client toFetchedMail). */
const REPLY: FetchedMail = {
  uid: 42,
  messageId: "CAF=abc123@mail.example.test",
  inReplyTo: "tau-out-7@ops.example.test",
  from: { address: "Ana.Silva@Example.TEST", name: "Ana Silva" },
  to: [{ address: "ops@example.test", name: "Ops" }],
  subject: "Re: invoice 1043",
  dateMs: 1736157600000,
  internalDateMs: 1736157601000,
  text: "Paid today, receipt attached.\n\n> earlier quote\n\n",
  attachments: [
    { filename: "receipt.pdf", contentType: "application/pdf", size: 48211, contentId: null },
    { filename: "logo.png", contentType: "image/png", size: 1200, contentId: "logo@ana" },
  ],
  autoSubmitted: false,
  sourceTruncated: false,
  parseFailed: false,
};

function item(mail: Partial<FetchedMail> = {}, where: Partial<Omit<EmailItem, "mail">> = {}): EmailItem {
  return { mailbox: "INBOX", uidValidity: "1736000000", ...where, mail: { ...REPLY, ...mail } };
}

function ok(r: NormalizeResult): Envelope {
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.detail}`);
  expect(r.envelopes).toHaveLength(1);
  return r.envelopes[0]!;
}

describe("normalizeEmail", () => {
  it("turns a reply with attachments into the full envelope", () => {
    expect(ok(normalizeEmail(item(), ctx))).toEqual({
      v: 1,
      event_id: "email:INBOX:1736000000:42",
      transport: "email",
      provider: "imap",
      account_id: "ops",
      kind: "message",
      conversation_id: "ana.silva@example.test",
      thread_id: null,
      chat_type: "dm",
      actor: { id: "ana.silva@example.test", display: "Ana Silva", is_bot: false },
      mentions_bot: true,
      text: "Re: invoice 1043\n\nPaid today, receipt attached.\n\n> earlier quote",
      attachments: [
        { kind: "document", mime: "application/pdf", size: 48211, name: "receipt.pdf", ref: "part:1" },
        { kind: "image", mime: "image/png", size: 1200, name: "logo.png", ref: "logo@ana" },
      ],
      reply_to: "tau-out-7@ops.example.test",
      forwarded: false,
      occurred_at_ms: 1736157600000,
      received_at_ms: RECEIVED_AT,
      meta: {
        message_id: "CAF=abc123@mail.example.test",
        mailbox: "INBOX",
        uid: 42,
        uidvalidity: "1736000000",
        subject: "Re: invoice 1043",
      },
    });
  });

  it("cuts a long body, keeps the subject, and notes both lengths in meta (never the body itself)", () => {
    const body = "x".repeat(MAX_EMAIL_BODY_CHARS + 500);
    const env = ok(normalizeEmail(item({ text: body, attachments: [] }), ctx));
    expect(env.text).toBe(`Re: invoice 1043\n\n${"x".repeat(16_000)}`);
    expect(env.meta).toEqual({
      message_id: "CAF=abc123@mail.example.test",
      mailbox: "INBOX",
      uid: 42,
      uidvalidity: "1736000000",
      subject: "Re: invoice 1043",
      text_truncated: true,
      body_chars: 16_500,
    });
  });

  it("never splits a surrogate pair when cutting", () => {
    const body = "a".repeat(MAX_EMAIL_BODY_CHARS - 1) + "😀tail";
    const env = ok(normalizeEmail(item({ text: body, subject: "" }), ctx));
    expect(env.text).toBe("a".repeat(15_999));
  });

  it("marks auto-submitted mail as a bot, flags truncated or unparsable sources", () => {
    const env = ok(normalizeEmail(item({ autoSubmitted: true, sourceTruncated: true, parseFailed: true }), ctx));
    expect(env.actor.is_bot).toBe(true);
    expect(env.meta).toMatchObject({ auto_submitted: true, source_truncated: true, parse_failed: true });
  });

  it("has no actor id without a From address, and falls back to INTERNALDATE then receipt time", () => {
    const noFrom = ok(normalizeEmail(item({ from: null, dateMs: null }), ctx));
    expect(noFrom.conversation_id).toBe("unknown-sender");
    expect(noFrom.actor).toEqual({ id: null, display: null, is_bot: false });
    expect(noFrom.occurred_at_ms).toBe(1736157601000);
    const blank = ok(normalizeEmail(item({ from: { address: "  ", name: " " }, dateMs: Number.NaN, internalDateMs: -5 }), ctx));
    expect(blank.conversation_id).toBe("unknown-sender");
    expect(blank.occurred_at_ms).toBe(RECEIVED_AT);
  });

  it("uses the body alone when there is no subject, and the subject alone when there is no body", () => {
    expect(ok(normalizeEmail(item({ subject: "" }), ctx)).text).toBe("Paid today, receipt attached.\n\n> earlier quote");
    expect(ok(normalizeEmail(item({ text: " \n" }), ctx)).text).toBe("Re: invoice 1043");
    expect(ok(normalizeEmail(item({ subject: "multi\r\nline" }), ctx)).meta.subject).toBe("multi line");
  });

  it("gives a recreated mailbox (new UIDVALIDITY) new event ids for the same UIDs", () => {
    const before = ok(normalizeEmail(item({}, { uidValidity: "1736000000" }), ctx));
    const after = ok(normalizeEmail(item({}, { uidValidity: "1736000099" }), ctx));
    expect([before.event_id, after.event_id]).toEqual(["email:INBOX:1736000000:42", "email:INBOX:1736000099:42"]);
  });

  it("keeps at most 100 attachments and says how many there were; bad sizes become null", () => {
    const many = Array.from({ length: 130 }, (_, i) => ({
      filename: i === 0 ? "" : `f${i}.bin`,
      contentType: null,
      size: i === 0 ? -1 : i,
      contentId: null,
    }));
    const env = ok(normalizeEmail(item({ attachments: many }), ctx));
    expect(env.attachments).toHaveLength(100);
    expect(env.attachments[0]).toEqual({ kind: "document", mime: null, size: null, name: null, ref: "part:1" });
    expect(env.meta.attachments_total).toBe(130);
  });

  it("refuses items without ids with ingress_missing_id and other bad shapes with ingress_payload_invalid", () => {
    expect(normalizeEmail({ ...item(), uidValidity: "" }, ctx)).toEqual({
      ok: false,
      code: "ingress_missing_id",
      detail: "uidValidity: a decimal UIDVALIDITY",
    });
    const noUid = normalizeEmail({ ...item(), mail: { ...REPLY, uid: 0 } }, ctx);
    expect(noUid.ok ? null : noUid.code).toBe("ingress_missing_id");
    const junk = normalizeEmail({ ...item(), mail: { ...REPLY, to: "ops" } }, ctx);
    expect(junk.ok ? null : junk.code).toBe("ingress_payload_invalid");
    expect(normalizeEmail(null, ctx)).toMatchObject({ ok: false, code: "ingress_payload_invalid" });
  });

  it("includes the parsed item as raw only with keepRaw", () => {
    expect(ok(normalizeEmail(item(), ctx)).raw).toBeUndefined();
    expect(ok(normalizeEmail(item(), { ...ctx, keepRaw: true })).raw).toEqual(item());
  });
});

// ------------------------------------------------------------------------------------------- properties
const str = fc.string({ unit: "grapheme", maxLength: 80 });
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const fetchedMail: fc.Arbitrary<FetchedMail> = fc.record({
  uid: fc.integer({ min: 1, max: 4_294_967_295 }),
  messageId: nullable(str),
  inReplyTo: nullable(str),
  from: nullable(fc.record({ address: fc.oneof(fc.emailAddress(), str), name: nullable(str) })),
  to: fc.array(fc.record({ address: fc.oneof(fc.emailAddress(), str), name: nullable(str) }), { maxLength: 4 }),
  subject: fc.oneof(str, fc.string({ unit: "binary", maxLength: 3000 })),
  dateMs: nullable(fc.oneof(fc.integer(), fc.double())),
  internalDateMs: nullable(fc.oneof(fc.integer(), fc.double())),
  text: fc.oneof(str, fc.string({ unit: "binary", maxLength: 70_000 })),
  attachments: fc.array(
    fc.record({
      filename: nullable(str),
      contentType: nullable(str),
      size: nullable(fc.oneof(fc.integer(), fc.double())),
      contentId: nullable(str),
    }),
    { maxLength: 120 },
  ),
  autoSubmitted: fc.boolean(),
  sourceTruncated: fc.boolean(),
  parseFailed: fc.boolean(),
});
const mailbox = fc.oneof(fc.constantFrom("INBOX", "Archive/2025", "alerts"), fc.string({ minLength: 1, maxLength: 400 }));
const uidValidity = fc.integer({ min: 1, max: 4_294_967_295 }).map(String);

describe("normalizeEmail properties", () => {
  it("any parsed message gives exactly one valid envelope with the email id scheme", () => {
    fc.assert(
      fc.property(mailbox, uidValidity, fetchedMail, fc.boolean(), (mb, uv, mail, keepRaw) => {
        const r = normalizeEmail({ mailbox: mb, uidValidity: uv, mail }, { ...ctx, keepRaw });
        if (!r.ok) throw new Error(`${r.code}: ${r.detail}`);
        expect(r.envelopes).toHaveLength(1);
        const env = r.envelopes[0]!;
        expect(EnvelopeSchema.safeParse(env).success).toBe(true);
        expect(env.event_id).toBe(`email:${mb}:${uv}:${mail.uid}`);
        expect(env.chat_type).toBe("dm");
        expect(env.meta).not.toHaveProperty("text");
        expect(env.meta).not.toHaveProperty("body");
      }),
      { numRuns: 300, seed: 20260221 },
    );
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withSparseArray: true, maxDepth: 3 }), (junk) => {
        const r = normalizeEmail(junk, ctx);
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 300, seed: 20260221 },
    );
  });
});
