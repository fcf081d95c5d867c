/** @module WhatsApp delivery receipts (`value.statuses[]`) and app-level errors (`value.errors[]`) → envelopes. */
import type { Envelope, NormalizeContext } from "../../src/contracts/envelope.ts";
import { baseFields, contactName, sourceMeta } from "./normalize-message.ts";
import type { ChangeSource } from "./normalize-message.ts";
import { compactMeta } from "./normalize-result.ts";
import type { WaError, WaStatus } from "./webhook-schema.ts";

/**
 * A receipt for a message we sent → `status`, keyed `whatsapp:<wamid>:<status>` (read may come without
 * delivered, and out of order). @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/status
 */
export function toStatusEnvelope(s: WaStatus, source: ChangeSource, ctx: NormalizeContext): Envelope {
  const error = s.errors?.[0];
  // Sent to a BSUID, the status names it in recipient_user_id only; a group status names the group.
  const recipient = s.recipient_id ?? s.recipient_user_id ?? "";
  const group = s.recipient_type === "group";
  return {
    ...baseFields(ctx, `whatsapp:${s.id}:${s.status}`, source, s),
    kind: "status",
    conversation_id: recipient,
    ...(group ? { chat_type: "group" as const } : {}),
    actor: { id: recipient, display: contactName(source.value, recipient), is_bot: false },
    text: "",
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: Number(s.timestamp) * 1000,
    meta: compactMeta({
      status: s.status,
      message_id: s.id,
      recipient_id: s.recipient_id,
      recipient_user_id: s.recipient_user_id,
      recipient_type: s.recipient_type,
      ...sourceMeta(source),
      error_code: error?.code,
      error_title: error?.title,
    }),
  };
}

/** FNV-1a (32-bit) over UTF-16 code units: a short, deterministic content fingerprint (not a security hash). */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
  return s === "" ? "error" : s;
}

/**
 * The stable part of an error's event_id, from its own content only (never its index, the clock or
 * randomness), so a redelivered body yields the same id: `[<timestamp>:]<title slug>:<fingerprint>`.
 */
function errorKey(e: WaError): string {
  const content = JSON.stringify([e.title ?? null, e.message ?? null, e.error_data?.details ?? null, e.href ?? null]);
  const parts = [slug(e.title ?? e.message ?? ""), fingerprint(content)];
  return (e.timestamp === undefined ? parts : [String(e.timestamp), ...parts]).join(":");
}

/**
 * A system/app-level failure with no user → `system`; the conversation is the business number itself.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/errors
 */
export function toErrorEnvelope(e: WaError, source: ChangeSource, ctx: NormalizeContext): Envelope {
  const phoneNumberId = source.value.metadata.phone_number_id;
  return {
    ...baseFields(ctx, `whatsapp:error:${phoneNumberId}:${e.code}:${errorKey(e)}`, source, e),
    kind: "system",
    conversation_id: phoneNumberId,
    actor: { id: null, display: null, is_bot: false },
    text: "",
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: e.timestamp === undefined ? ctx.receivedAtMs : Number(e.timestamp) * 1000,
    meta: compactMeta({
      error_code: e.code,
      error_title: e.title,
      error_message: e.message,
      error_details: e.error_data?.details,
      ...sourceMeta(source),
    }),
  };
}
