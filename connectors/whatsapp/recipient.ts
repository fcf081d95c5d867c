/**
 * @module Who a WhatsApp message goes to, from the conversation id tau keyed the chat by: a phone (`to`, digits), a
 * business-scoped user id (`recipient`, `CC.` + alphanumerics, for users whose phone Meta withholds) or a group
 * (`recipient_type: group`, `to` = the group id, an opaque base64-like string).
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages (PROVIDERS.md §10.3 BSUID, groups)
 */
import type { ChatType } from "../../src/contracts/envelope.ts";

/** A BSUID: a two-letter country code, a dot, optionally `ENT.` (parent ids), then up to 128 alphanumerics. */
const BSUID = /^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$/;
/** A phone number as Meta sends it (digits; a leading `+` is tolerated). */
const PHONE = /^\+?\d{5,20}$/;

/** True for a business-scoped user id (`US.13491208655302741918`). */
export function isBsuid(id: string): boolean {
  return BSUID.test(id);
}

/** The recipient fields of a send request for `conversationId` (`chatType` wins when the target knows it). */
export function whatsappRecipient(conversationId: string, chatType?: ChatType): Record<string, string> {
  if (chatType === "group" || (chatType === undefined && !PHONE.test(conversationId) && !isBsuid(conversationId))) {
    return { recipient_type: "group", to: conversationId };
  }
  // `to` wins over `recipient` when both are sent, so a BSUID goes in `recipient` alone.
  if (isBsuid(conversationId)) return { recipient_type: "individual", recipient: conversationId };
  return { recipient_type: "individual", to: conversationId };
}
