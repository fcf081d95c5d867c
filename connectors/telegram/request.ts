/**
 * @module Telegram requests for one chunk. A message: `sendMessage` with `message_thread_id` for forum topics and a
 * reply reference on the first chunk; plain text, or HTML (`parse_mode`) with an inline keyboard when the chunk was
 * rendered from a structured reply. A button press: `answerCallbackQuery` (a toast, or an alert only the presser
 * sees) and `editMessageText` of the prompt (the outcome, keyboard removed). The token is never part of the request.
 * @see https://core.telegram.org/bots/api#sendmessage
 * @see https://core.telegram.org/bots/api#answercallbackquery
 * @see https://core.telegram.org/bots/api#editmessagetext
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";
import type { ReplyButton } from "../../src/contracts/reply.ts";
import { parseBusinessConversationId } from "./normalize-message.ts";

/** Telegram chat ids are integers (supergroups exceed 32 bits but fit a double); `@channel` names stay strings. */
function toTelegramChatId(id: string): number | string {
  return /^-?\d{1,16}$/.test(id) ? Number(id) : id;
}

/** answerCallbackQuery `text` is 0–200 characters. */
const CALLBACK_TEXT_MAX = 200;

/** One row of inline buttons; `style` is the Bot API's optional button colour (success, danger, primary). */
function inlineKeyboard(buttons: readonly ReplyButton[]): { inline_keyboard: Record<string, string>[][] } {
  return {
    inline_keyboard: buttons.length
      ? [buttons.map((b) => ({ text: b.label, callback_data: b.data, ...(b.style !== "secondary" ? { style: b.style } : {}) }))]
      : [],
  };
}

const request = (apiRoot: string, method: string, body: Record<string, unknown>): ProviderRequest => ({
  method: "POST",
  url: `${apiRoot}/bot<redacted>/${method}`,
  headers: { "content-type": "application/json" },
  body,
});

/** The Bot API method a shaped request calls (the last path segment). */
export function telegramMethodOf(r: ProviderRequest): string {
  return r.url.slice(r.url.lastIndexOf("/") + 1);
}

export function buildTelegramSendMessage(apiRoot: string, job: ChunkJob): ProviderRequest {
  // A business chat (`business:<connection>:<chat>`) is answered for the account, through its connection.
  const business = parseBusinessConversationId(job.target.conversation_id);
  const chat_id = toTelegramChatId(business?.chatId ?? job.target.conversation_id);
  const text = job.rich?.text ?? job.text;
  const format = job.rich?.parse_mode ? { parse_mode: job.rich.parse_mode } : {};
  const action = job.action;
  if (action?.kind === "answer_callback") {
    const t = [...job.text];
    return request(apiRoot, "answerCallbackQuery", {
      callback_query_id: action.callback_id,
      text: t.length > CALLBACK_TEXT_MAX ? t.slice(0, CALLBACK_TEXT_MAX - 1).join("") + "…" : job.text,
      show_alert: action.show_alert,
    });
  }
  if (action?.kind === "edit_prompt" && action.message_id && /^\d+$/.test(action.message_id)) {
    // An empty inline_keyboard removes the buttons (PROVIDERS.md §10.1).
    return request(apiRoot, "editMessageText", {
      chat_id,
      message_id: Number(action.message_id),
      text,
      ...format,
      reply_markup: inlineKeyboard(job.rich?.buttons ?? []),
      // A prompt in a business chat is edited through the same connection it was sent on.
      ...(business ? { business_connection_id: business.businessConnectionId } : {}),
    });
  }
  const body: Record<string, unknown> = { chat_id, text, ...format };
  if (business) body.business_connection_id = business.businessConnectionId;
  if (job.target.thread_id) body.message_thread_id = Number(job.target.thread_id);
  if (job.idx === 0 && job.target.reply_to && /^\d+$/.test(job.target.reply_to)) {
    body.reply_parameters = { message_id: Number(job.target.reply_to), allow_sending_without_reply: true };
  }
  if (job.rich?.buttons.length) body.reply_markup = inlineKeyboard(job.rich.buttons);
  return request(apiRoot, "sendMessage", body);
}
