/**
 * @module Discord requests for one chunk. A message: create-message with `allowed_mentions` that never pings anyone,
 * `nonce` + `enforce_nonce` so a retried POST cannot create a second message, a reply reference on the first chunk,
 * and an action row of buttons when the chunk was rendered from a structured reply. A button press (already acked
 * by the connector with a deferred update): the prompt is edited through the interaction webhook
 * (`PATCH /webhooks/{app}/{token}/messages/@original`, buttons removed) and private answers are ephemeral follow-ups
 * (`POST /webhooks/{app}/{token}`, flags 64). Interaction webhooks take no Authorization header; the interaction
 * token is shown as `<interaction_token>` (the sender puts the real one in). Every create and edit repeats
 * `allowed_mentions`: an edit without it re-parses mentions with the defaults (PROVIDERS.md §10.2).
 * @see https://discord.com/developers/docs/resources/message#create-message
 * @see https://discord.com/developers/docs/interactions/receiving-and-responding#edit-original-interaction-response
 * @see https://discord.com/developers/docs/interactions/receiving-and-responding#create-followup-message
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";
import type { ButtonStyle, ReplyButton } from "../../src/contracts/reply.ts";

/** Stands in for the interaction token in a shaped request. */
export const INTERACTION_TOKEN_PLACEHOLDER = "<interaction_token>";

/** ≤ 25 characters, stable per chunk. */
function discordNonce(outboxId: string, idx: number): string {
  return `${outboxId.replace(/^ob_/, "").slice(0, 18)}-${idx}`;
}

const STYLE: Record<ButtonStyle, number> = { primary: 1, secondary: 2, success: 3, danger: 4 };

/** One action row (type 1) of buttons (type 2); an empty list removes the components. */
function components(buttons: readonly ReplyButton[]): unknown[] {
  if (buttons.length === 0) return [];
  return [{ type: 1, components: buttons.map((b) => ({ type: 2, style: STYLE[b.style], label: b.label, custom_id: b.data })) }];
}

const NO_MENTIONS = { parse: [] as string[] };
const JSON_HEADERS = { "content-type": "application/json" };

export function buildDiscordCreateMessage(apiRoot: string, job: ChunkJob): ProviderRequest {
  const content = job.rich?.text ?? job.text;
  const action = job.action;
  if (action?.kind === "followup") {
    return {
      method: "POST",
      url: `${apiRoot}/v10/webhooks/${action.application_id}/${INTERACTION_TOKEN_PLACEHOLDER}`,
      headers: JSON_HEADERS,
      body: { content, allowed_mentions: NO_MENTIONS, ...(action.ephemeral ? { flags: 64 } : {}) },
    };
  }
  if (action?.kind === "edit_prompt") {
    const body = { content, components: components(job.rich?.buttons ?? []), allowed_mentions: NO_MENTIONS };
    if (action.application_id && action.interaction_token)
      return {
        method: "PATCH",
        url: `${apiRoot}/v10/webhooks/${action.application_id}/${INTERACTION_TOKEN_PLACEHOLDER}/messages/@original`,
        headers: JSON_HEADERS,
        body,
      };
    if (action.message_id)
      return {
        method: "PATCH",
        url: `${apiRoot}/v10/channels/${job.target.conversation_id}/messages/${action.message_id}`,
        headers: { authorization: "Bot <redacted>", ...JSON_HEADERS },
        body,
      };
  }
  const body: Record<string, unknown> = {
    content,
    allowed_mentions: { parse: [], replied_user: false },
    nonce: discordNonce(job.outbox_id, job.idx),
    enforce_nonce: true,
  };
  if (job.idx === 0 && job.target.reply_to) body.message_reference = { message_id: job.target.reply_to, fail_if_not_exists: false };
  if (job.rich?.buttons.length) body.components = components(job.rich.buttons);
  return {
    method: "POST",
    url: `${apiRoot}/v10/channels/${job.target.conversation_id}/messages`,
    headers: { authorization: "Bot <redacted>", "content-type": "application/json" },
    body,
  };
}
