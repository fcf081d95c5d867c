/**
 * @module WhatsApp Cloud API message request for one chunk, with reply context on the first chunk: text, or an
 * interactive reply-button message when the chunk carries buttons (1–3, checked by the renderer; body ≤ 1024
 * characters, else plain text — the text always says the command too). WhatsApp cannot edit a message or answer a
 * press privately: a press's outcome is a new text message in the conversation.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";
import { whatsappRecipient } from "./recipient.ts";

/** Longest body of an interactive message (characters). */
const INTERACTIVE_BODY_MAX = 1024;

export function buildWhatsAppTextMessage(apiRoot: string, job: ChunkJob): ProviderRequest {
  const body: Record<string, unknown> = {
    messaging_product: "whatsapp",
    // A phone (`to`), a BSUID (`recipient`) or a group (`recipient_type: group`).
    ...whatsappRecipient(job.target.conversation_id, job.target.chat_type),
    type: "text",
    text: { preview_url: false, body: job.rich?.text ?? job.text },
  };
  const buttons = job.rich?.buttons ?? [];
  const bodyText = job.rich?.text ?? job.text;
  if (buttons.length > 0 && [...bodyText].length <= INTERACTIVE_BODY_MAX) {
    delete body.text;
    body.type = "interactive";
    body.interactive = {
      type: "button",
      body: { text: bodyText },
      action: { buttons: buttons.map((b) => ({ type: "reply", reply: { id: b.data, title: b.label } })) },
    };
  }
  if (job.idx === 0 && job.target.reply_to) body.context = { message_id: job.target.reply_to };
  return {
    method: "POST",
    url: `${apiRoot}/${job.target.account_id}/messages`,
    headers: { authorization: "Bearer <redacted>", "content-type": "application/json" },
    body,
  };
}
