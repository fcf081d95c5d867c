/**
 * @module How a button press is answered, per platform (PROVIDERS.md §10). Telegram: always `answerCallbackQuery`
 * (a toast when it worked, an alert only the presser sees when it did not), and on success the prompt is edited to
 * show the outcome with its keyboard removed. Discord (the connector already acked with a deferred update): on
 * success the original message is edited through the interaction webhook; otherwise an ephemeral follow-up.
 * WhatsApp cannot edit or answer privately: a reply in the conversation.
 */
import type { DeliveryAction, ReplyIntent, ReplyTarget } from "../contracts/outbound.ts";
import type { Reply } from "../contracts/reply.ts";
import { replyIntent } from "./chat-reply.ts";

/** What came of a press: `notice` is the short line (toast / private answer); `prompt` replaces the prompt on success. */
export interface PressOutcome {
  ok: boolean;
  notice: string;
  prompt?: Reply;
}

const withAction = (intent: ReplyIntent, action: DeliveryAction): ReplyIntent => ({ ...intent, action });

/** The replies that answer a press at `target` (which carries the interaction). */
export function callbackReplies(target: ReplyTarget, outcome: PressOutcome): ReplyIntent[] {
  const i = target.interaction;
  const notice = replyIntent("approval", { blocks: [{ kind: "text", text: outcome.notice }] });
  const prompt = outcome.prompt ? replyIntent("approval", { ...outcome.prompt, buttons: [] }) : null;
  if (target.transport === "telegram" && i) {
    const out: ReplyIntent[] = [];
    if (i.callback_id) out.push(withAction(notice, { kind: "answer_callback", callback_id: i.callback_id, show_alert: !outcome.ok }));
    if (outcome.ok && prompt && i.prompt_message_id) out.push(withAction(prompt, { kind: "edit_prompt", message_id: i.prompt_message_id }));
    return out.length ? out : [prompt ?? notice];
  }
  if (target.transport === "discord" && i?.interaction_token && i.application_id) {
    const hook = { application_id: i.application_id, interaction_token: i.interaction_token };
    if (outcome.ok && prompt) return [withAction(prompt, { kind: "edit_prompt", message_id: i.prompt_message_id, ...hook })];
    return [withAction(notice, { kind: "followup", ...hook, ephemeral: true })];
  }
  return [outcome.ok && prompt ? prompt : notice];
}
