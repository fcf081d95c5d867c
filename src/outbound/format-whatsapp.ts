/**
 * @module A neutral reply in WhatsApp's own markup: *bold*, _italic_, ```monospace```, `- ` lists. WhatsApp has no
 * escape character, so user text is passed as is. Reply buttons: 1–3, titles ≤ 20 characters, unique ids; none
 * in groups (interactive messages are not supported there; the text says the command instead).
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
 */
import type { Reply, ReplyButton } from "../contracts/reply.ts";

/** WhatsApp markup for `reply` (footer in italics). */
export function renderWhatsAppMarkup(reply: Reply): string {
  const parts: string[] = [];
  if (reply.title) parts.push(`*${reply.title}*`);
  for (const b of reply.blocks) {
    if (b.kind === "text") parts.push(b.text);
    else if (b.kind === "fields") parts.push(b.fields.map((f) => `*${f.label}:* ${f.value}`).join("\n"));
    else if (b.kind === "list") parts.push(b.items.map((i) => `- ${i}`).join("\n"));
    else parts.push("```" + b.text + "```");
  }
  if (reply.footer) parts.push(`_${reply.footer}_`);
  return parts.filter((p) => p !== "").join("\n\n");
}

export const WHATSAPP_MAX_BUTTONS = 3;
export const WHATSAPP_BUTTON_TITLE_MAX = 20;

/** Reply buttons WhatsApp accepts, or none: more than 3, a title over 20 characters or duplicate ids drop them all. */
export function whatsAppButtons(buttons: readonly ReplyButton[]): ReplyButton[] {
  const ids = new Set(buttons.map((b) => b.data));
  const ok =
    buttons.length <= WHATSAPP_MAX_BUTTONS &&
    ids.size === buttons.length &&
    buttons.every((b) => b.label.trim() !== "" && [...b.label].length <= WHATSAPP_BUTTON_TITLE_MAX && b.data.length <= 256);
  return ok ? [...buttons] : [];
}
