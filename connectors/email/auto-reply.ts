/**
 * @module Automated mail recognition: auto-replies, vacation notices, bulk and list mail, bounces and delivery
 * reports are never answered (an answer could start a mail loop). The first marker found is the reason, named after
 * its header, so `meta.auto_reason` says why a message was treated as a bot. Pure.
 * @see https://www.rfc-editor.org/rfc/rfc3834 (Auto-Submitted, §2 and §5)
 * @see PROVIDERS.md §10.4 (de-facto headers: Precedence, X-Autoreply, X-Apple-Action, Exchange loop headers, List-*)
 */

/** Automatic-response suppression values that mean "do not auto-answer this" (MS-OXCMAIL 2.1.3.2.20). */
const SUPPRESS = /\b(all|oof|autoreply)\b/i;
const PRECEDENCE = /^\s*(bulk|junk|list|auto_reply)\b/i;
/** Local parts of system senders: bounces and postmaster notices. */
const SYSTEM_SENDER = /^(mailer-daemon|postmaster)@/i;

/** Why a message counts as automated, in the order checked; the value is the header (or field) that said so. */
export type AutoReason =
  | "auto-submitted"
  | "x-apple-action"
  | "x-autoreply"
  | "x-autorespond"
  | "x-autoresponder"
  | "precedence"
  | "x-precedence"
  | "x-auto-response-suppress"
  | "x-ms-exchange-inbox-rules-loop"
  | "x-ms-exchange-generated-message-source"
  | "list-id"
  | "list-unsubscribe"
  | "content-type"
  | "return-path"
  | "from"
  | "x-tau-outbox-id";

/**
 * The reason `headers` (lower-cased names → raw values) mark the mail as automated, or null for a person's mail.
 * `autoSubmitted` is the port's own RFC 3834 verdict (kept for mail fetched before `headers` existed).
 */
export function automatedMailReason(input: {
  headers: Readonly<Record<string, string>>;
  autoSubmitted: boolean;
  from: string | null;
}): AutoReason | null {
  const h = input.headers;
  const has = (name: string) => h[name] !== undefined;
  // tau's own reply (its loop marker) reflected back by a forwarder or a list: answering it would loop.
  if (has("x-tau-outbox-id")) return "x-tau-outbox-id";
  const auto = h["auto-submitted"]?.trim().toLowerCase();
  // RFC 3834 §5: no automatic response to anything with Auto-Submitted other than "no".
  if (input.autoSubmitted || (auto !== undefined && auto !== "" && auto !== "no")) return "auto-submitted";
  // iCloud vacation replies carry no Auto-Submitted, only their own header.
  if (has("x-apple-action") && /vacation/i.test(h["x-apple-action"]!)) return "x-apple-action";
  for (const name of ["x-autoreply", "x-autorespond", "x-autoresponder"] as const) if (has(name)) return name;
  for (const name of ["precedence", "x-precedence"] as const) if (has(name) && PRECEDENCE.test(h[name]!)) return name;
  if (has("x-auto-response-suppress") && SUPPRESS.test(h["x-auto-response-suppress"]!)) return "x-auto-response-suppress";
  // Exchange inbox rules and out-of-office replies.
  if (has("x-ms-exchange-inbox-rules-loop")) return "x-ms-exchange-inbox-rules-loop";
  if (has("x-ms-exchange-generated-message-source")) return "x-ms-exchange-generated-message-source";
  if (has("list-id")) return "list-id";
  if (has("list-unsubscribe")) return "list-unsubscribe";
  // Delivery status and disposition notifications (RFC 3464 / 8098).
  if (has("content-type") && /^\s*multipart\/report\b/i.test(h["content-type"]!)) return "content-type";
  // The null sender `<>` is reserved for bounces and notifications: never answered.
  if (h["return-path"] === "") return "return-path";
  if (input.from !== null && SYSTEM_SENDER.test(input.from)) return "from";
  return null;
}
