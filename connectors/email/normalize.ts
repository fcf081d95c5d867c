/**
 * @module Pure email normalizer: one fetched-and-parsed IMAP message (with its mailbox and UIDVALIDITY) → one
 * envelope v1. Email is always a DM with the sender; the event id carries UIDVALIDITY, so a mailbox that is
 * recreated never collides with what was ingested before. No raw body ever goes into `meta`.
 * @see https://www.rfc-editor.org/rfc/rfc3501#section-2.3.1.1 (UID and UIDVALIDITY)
 */
import { z } from "zod";
import {
  EnvelopeSchema,
  type Attachment,
  type Envelope,
  type NormalizeContext,
  type NormalizeResult,
} from "../../src/contracts/envelope.ts";
import type { FetchedMail } from "../shared/mail-port.ts";
import { automatedMailReason } from "./auto-reply.ts";

/** One item handed to the normalizer: where the message lives and what the port fetched. */
export interface EmailItem {
  mailbox: string;
  uidValidity: string;
  mail: FetchedMail;
}

/** Body characters (UTF-16 units) kept in `text`; longer bodies are cut and flagged `text_truncated` in meta. */
export const MAX_EMAIL_BODY_CHARS = 16_000;
/** Subject characters kept (RFC 5322 line limit). */
const MAX_SUBJECT_CHARS = 998;
/** The envelope schema's attachment cap. */
const MAX_ATTACHMENTS = 100;
/** `conversation_id` when a message has no usable From address (policy then denies: actor id is null). */
const UNKNOWN_SENDER = "unknown-sender";

/** Dates and sizes may be NaN or ±Infinity from a broken header; they are validated where they are used. */
const anyNumber = z.custom<number>((v) => typeof v === "number", "a number");
const AddressSchema = z.object({ address: z.string(), name: z.string().nullable() }).strict();
const FetchedMailSchema = z
  .object({
    uid: z.number().int().min(1).max(4_294_967_295),
    messageId: z.string().nullable(),
    inReplyTo: z.string().nullable(),
    from: AddressSchema.nullable(),
    to: z.array(AddressSchema),
    subject: z.string(),
    dateMs: anyNumber.nullable(),
    internalDateMs: anyNumber.nullable(),
    text: z.string(),
    attachments: z.array(
      z
        .object({
          filename: z.string().nullable(),
          contentType: z.string().nullable(),
          size: anyNumber.nullable(),
          contentId: z.string().nullable(),
        })
        .strict(),
    ),
    autoSubmitted: z.boolean(),
    autoHeaders: z.record(z.string(), z.string()).optional(),
    sourceTruncated: z.boolean(),
    parseFailed: z.boolean(),
  })
  .strict();
const EmailItemSchema = z
  .object({
    mailbox: z.string().min(1).max(400),
    uidValidity: z.string().regex(/^\d{1,10}$/, "a decimal UIDVALIDITY"),
    mail: FetchedMailSchema,
  })
  .strict();

/** Cut to at most `max` UTF-16 units without splitting a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return s.slice(0, end);
}

function attachmentKind(mime: string | null): Attachment["kind"] {
  const top = mime?.split("/")[0];
  if (top === "image" || top === "audio" || top === "video") return top;
  return "document";
}

function validTime(ms: number | null): number | null {
  return ms !== null && Number.isFinite(ms) && ms >= 0 && ms <= 8.64e15 ? Math.trunc(ms) : null;
}

function nonEmpty(s: string | null | undefined): string | null {
  const t = s?.trim();
  return t ? t : null;
}

/** Normalize one {@link EmailItem}. Pure: no I/O, no clock (time comes in `ctx.receivedAtMs`). */
export function normalizeEmail(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  const parsed = EmailItemSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "(root)";
    const missingId = issue && ["mailbox", "uidValidity", "uid"].includes(String(issue.path.at(-1)));
    return {
      ok: false,
      code: missingId ? "ingress_missing_id" : "ingress_payload_invalid",
      detail: `${where}: ${issue?.message ?? "invalid"}`,
    };
  }
  const { mailbox, uidValidity, mail } = parsed.data;
  const sender = nonEmpty(mail.from?.address)?.toLowerCase() ?? null;
  const subject = cut(mail.subject.replace(/[\r\n]+/g, " ").trim(), MAX_SUBJECT_CHARS);
  const body = mail.text.replace(/\s+$/, "");
  const bodyKept = cut(body, MAX_EMAIL_BODY_CHARS);
  const textTruncated = bodyKept.length < body.length;
  const attachments: Attachment[] = mail.attachments.slice(0, MAX_ATTACHMENTS).map((a, i) => {
    const mime = nonEmpty(a.contentType)?.toLowerCase() ?? null;
    return {
      kind: attachmentKind(mime),
      mime,
      size: a.size !== null && Number.isSafeInteger(a.size) && a.size >= 0 ? a.size : null,
      name: nonEmpty(a.filename),
      // Content-ID when the part has one, else its 1-based position among the attachments.
      ref: nonEmpty(a.contentId) ?? `part:${i + 1}`,
    };
  });
  const meta: Envelope["meta"] = {
    message_id: nonEmpty(mail.messageId),
    mailbox,
    uid: mail.uid,
    uidvalidity: uidValidity,
    subject,
  };
  if (textTruncated) {
    meta.text_truncated = true;
    meta.body_chars = body.length;
  }
  if (mail.sourceTruncated) meta.source_truncated = true;
  if (mail.parseFailed) meta.parse_failed = true;
  if (mail.attachments.length > MAX_ATTACHMENTS) meta.attachments_total = mail.attachments.length;
  if (mail.autoSubmitted) meta.auto_submitted = true;
  // Automated mail (auto-replies, vacation notices, lists, bounces) is a bot: the self/bot filter never answers it.
  const autoReason = automatedMailReason({ headers: mail.autoHeaders ?? {}, autoSubmitted: mail.autoSubmitted, from: sender });
  if (autoReason !== null) meta.auto_reason = autoReason;

  const envelope: Envelope = {
    v: 1,
    event_id: `email:${mailbox}:${uidValidity}:${mail.uid}`,
    transport: "email",
    provider: "imap",
    account_id: ctx.identity.email.account_id,
    kind: "message",
    conversation_id: sender ?? UNKNOWN_SENDER,
    thread_id: null,
    chat_type: "dm",
    actor: { id: sender, display: nonEmpty(mail.from?.name), is_bot: autoReason !== null },
    mentions_bot: true,
    text: subject && bodyKept ? `${subject}\n\n${bodyKept}` : subject || bodyKept,
    attachments,
    reply_to: nonEmpty(mail.inReplyTo),
    forwarded: false,
    occurred_at_ms: validTime(mail.dateMs) ?? validTime(mail.internalDateMs) ?? ctx.receivedAtMs,
    received_at_ms: ctx.receivedAtMs,
    meta,
    ...(ctx.keepRaw ? { raw: parsed.data } : {}),
  };
  const checked = EnvelopeSchema.safeParse(envelope);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return {
      ok: false,
      code: "ingress_envelope_invalid",
      detail: `${envelope.event_id}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
    };
  }
  return { ok: true, envelopes: [checked.data], ignored: [] };
}
