/** @module Email reply request for one chunk (SMTP submission), as dry-run shows it. */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";

export function buildEmailReply(job: ChunkJob): ProviderRequest {
  return {
    method: "POST",
    url: "smtp://submission",
    headers: {},
    body: { to: job.target.conversation_id, in_reply_to: job.target.reply_to, part: job.idx + 1, parts: job.chunk_count, text: job.text },
  };
}
