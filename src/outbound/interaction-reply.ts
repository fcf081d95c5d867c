/**
 * @module Replies to a Discord slash command: the connector acknowledged it with a deferred response (type 5), so
 * the reply edits that response (`PATCH /webhooks/{app}/{token}/messages/@original`) and the chunks after the first
 * become follow-ups (`POST /webhooks/{app}/{token}`), ephemeral when the response was. Expressed as the delivery
 * actions the Discord request builder already sends, and stored with the reply (`outbox.rich`), so a retry after a
 * restart still answers the interaction while its token lives (15 min).
 * @see https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages
 */
import type { DeliveryAction, ReplyTarget } from "../contracts/outbound.ts";

/** The action for a reply to `target`, when it answers a deferred slash command; undefined otherwise. */
export function commandReplyAction(target: ReplyTarget): DeliveryAction | undefined {
  const i = target.interaction;
  if (target.transport !== "discord" || !i?.deferred_command || !i.application_id || !i.interaction_token) return undefined;
  return {
    kind: "edit_prompt",
    message_id: null,
    application_id: i.application_id,
    interaction_token: i.interaction_token,
    ...(i.ephemeral ? { ephemeral: true } : {}),
  };
}

/** Chunk `idx` of a reply with `action`: editing the original response twice would lose the first chunk, so later chunks follow up. */
export function actionForChunk(action: DeliveryAction | undefined, idx: number): DeliveryAction | undefined {
  if (idx === 0 || action?.kind !== "edit_prompt" || action.message_id !== null || !action.application_id || !action.interaction_token)
    return action;
  return {
    kind: "followup",
    application_id: action.application_id,
    interaction_token: action.interaction_token,
    ephemeral: action.ephemeral === true,
  };
}
