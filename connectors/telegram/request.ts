/**
 * @module Telegram `sendMessage` request for one chunk: plain text (no parse_mode), `message_thread_id`
 * for forum topics, a reply reference on the first chunk. The token is never part of the shaped request.
 * @see https://core.telegram.org/bots/api#sendmessage
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";

/** Telegram chat ids are integers (supergroups exceed 32 bits but fit a double); `@channel` names stay strings. */
function toTelegramChatId(id: string): number | string {
  return /^-?\d{1,16}$/.test(id) ? Number(id) : id;
}

export function buildTelegramSendMessage(apiRoot: string, job: ChunkJob): ProviderRequest {
  const body: Record<string, unknown> = { chat_id: toTelegramChatId(job.target.conversation_id), text: job.text };
  if (job.target.thread_id) body.message_thread_id = Number(job.target.thread_id);
  if (job.idx === 0 && job.target.reply_to && /^\d+$/.test(job.target.reply_to)) {
    body.reply_parameters = { message_id: Number(job.target.reply_to), allow_sending_without_reply: true };
  }
  return { method: "POST", url: `${apiRoot}/bot<redacted>/sendMessage`, headers: { "content-type": "application/json" }, body };
}
