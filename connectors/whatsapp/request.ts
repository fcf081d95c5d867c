/**
 * @module WhatsApp Cloud API text message request for one chunk, with reply context on the first chunk.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";

export function buildWhatsAppTextMessage(apiRoot: string, job: ChunkJob): ProviderRequest {
  const body: Record<string, unknown> = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    to: job.target.conversation_id,
    type: "text",
    text: { preview_url: false, body: job.text },
  };
  if (job.idx === 0 && job.target.reply_to) body.context = { message_id: job.target.reply_to };
  return {
    method: "POST",
    url: `${apiRoot}/${job.target.account_id}/messages`,
    headers: { authorization: "Bearer <redacted>", "content-type": "application/json" },
    body,
  };
}
