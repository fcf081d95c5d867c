/**
 * @module The email reply for one chunk: the exact SMTP submission provider mode makes (connectors/email/sender.ts)
 * and dry-run shows. Threaded under the triggering message, marked automatic (RFC 3834 `Auto-Submitted`).
 */
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";

export interface EmailSubmission {
  to: string;
  subject: string;
  text: string;
  headers: Record<string, string>;
}

/** Replies do not keep the original subject with the outbox row: one fixed subject, numbered when split. */
const EMAIL_REPLY_SUBJECT = "Re: your message to tau";

/** `<id@host>` as Message-ID headers want it. */
function angle(id: string): string {
  const t = id.trim();
  return t.startsWith("<") ? t : `<${t}>`;
}

export function emailSubmissionFor(job: ChunkJob, subject = EMAIL_REPLY_SUBJECT): EmailSubmission {
  // RFC 3834 marks it automatic; X-Auto-Response-Suppress asks Exchange/Outlook not to auto-answer it (no OOF loop);
  // X-Tau-Outbox-Id is tau's own loop marker (mail carrying it that comes back is never answered).
  const headers: Record<string, string> = {
    "Auto-Submitted": "auto-replied",
    "X-Auto-Response-Suppress": "All",
    "X-Tau-Outbox-Id": `${job.outbox_id}:${job.idx}`,
  };
  if (job.target.reply_to) {
    headers["In-Reply-To"] = angle(job.target.reply_to);
    headers["References"] = angle(job.target.reply_to);
  }
  const part = job.chunk_count > 1 ? ` (${job.idx + 1}/${job.chunk_count})` : "";
  return { to: job.target.conversation_id, subject: `${subject}${part}`, text: job.text, headers };
}

export function buildEmailReply(job: ChunkJob): ProviderRequest {
  return { method: "POST", url: "smtp://submission", headers: {}, body: { ...emailSubmissionFor(job) } };
}
