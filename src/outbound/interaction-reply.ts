/**
 * @module Replies to a Discord slash command: the connector acknowledged it with a deferred response (type 5), so
 * the first reply edits that response (`PATCH /webhooks/{app}/{token}/messages/@original`); its later chunks and
 * every later reply become follow-ups (`POST /webhooks/{app}/{token}`), ephemeral when the response was. Expressed as the delivery
 * actions the Discord request builder already sends, and stored with the reply (`outbox.rich`), so a retry after a
 * restart still answers the interaction while its token lives (15 min).
 * @see https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages
 */
import type { DeliveryAction, ReplyTarget } from "../contracts/outbound.ts";

/** How long Discord accepts an interaction token: replies queued to it longer ago no longer count. */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60_000;

/** True when `target` answers a deferred Discord slash command. */
export function isDeferredCommand(target: ReplyTarget): boolean {
  const i = target.interaction;
  return target.transport === "discord" && i?.deferred_command === true && !!i.application_id && !!i.interaction_token;
}

/**
 * The action for a reply to `target`, when it answers a deferred slash command; undefined otherwise. Only the first
 * reply to the interaction edits the deferred response: a later one (`later`, e.g. a job's result after an approval
 * prompt) is a follow-up, ephemeral like the response, so it does not overwrite what the first one said.
 */
export function commandReplyAction(target: ReplyTarget, later = false): DeliveryAction | undefined {
  const i = target.interaction;
  if (!isDeferredCommand(target) || !i?.application_id || !i.interaction_token) return undefined;
  if (later)
    return { kind: "followup", application_id: i.application_id, interaction_token: i.interaction_token, ephemeral: i.ephemeral === true };
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
