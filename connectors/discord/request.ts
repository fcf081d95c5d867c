/**
 * @module Discord create-message request for one chunk: `allowed_mentions` that never pings anyone,
 * `nonce` + `enforce_nonce` so a retried POST cannot create a second message, a reply reference on the
 * first chunk. @see https://discord.com/developers/docs/resources/message#create-message
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";

/** ≤ 25 characters, stable per chunk. */
function discordNonce(outboxId: string, idx: number): string {
  return `${outboxId.replace(/^ob_/, "").slice(0, 18)}-${idx}`;
}

export function buildDiscordCreateMessage(apiRoot: string, job: ChunkJob): ProviderRequest {
  const body: Record<string, unknown> = {
    content: job.text,
    allowed_mentions: { parse: [], replied_user: false },
    nonce: discordNonce(job.outbox_id, job.idx),
    enforce_nonce: true,
  };
  if (job.idx === 0 && job.target.reply_to) body.message_reference = { message_id: job.target.reply_to, fail_if_not_exists: false };
  return {
    method: "POST",
    url: `${apiRoot}/v10/channels/${job.target.conversation_id}/messages`,
    headers: { authorization: "Bot <redacted>", "content-type": "application/json" },
    body,
  };
}
