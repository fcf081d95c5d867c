/**
 * @module A command's answer as a chat reply: the capability's text (scrubbed of server paths) or, for a failure, a
 * sentence and a next step (`reason-sentences.ts`), then a footer. `outbound.footer` picks the footer: `short` (the
 * command and, in words, how it went), `none`, or `debug` (the machine line with the reason code). The reason code
 * itself is always in the trace and the audit log.
 */
import type { ReplyIntent } from "../contracts/outbound.ts";
import type { Reply } from "../contracts/reply.ts";
import { renderPlain } from "../outbound/format-plain.ts";
import { failureText, scrubInternals } from "./reason-sentences.ts";

export const FOOTER_MODES = ["short", "none", "debug"] as const;
export type FooterMode = (typeof FOOTER_MODES)[number];
export type CommandStatus = "reported" | "failed" | "pending_approval";

const STATUS_WORDS: Record<CommandStatus, string> = { reported: "done", failed: "not done", pending_approval: "waiting for approval" };

/** The footer line, or null for `none`. */
export function footerLine(mode: FooterMode, prefix: string, command: string, status: CommandStatus, reason: string): string | null {
  if (mode === "none") return null;
  if (mode === "debug") return `tau ${prefix} ${command} | status ${status} | reason_code ${reason}`;
  return `${command ? `${prefix} ${command}` : prefix} · ${STATUS_WORDS[status]}`;
}

/** A structured reply as an intent (the plain text rendered from it). */
export function replyIntent(purpose: ReplyIntent["purpose"], reply: Reply): ReplyIntent {
  return { purpose, text: renderPlain(reply), reply };
}

/** What chat shows for a finished (or refused) command. */
export function commandReply(
  opts: { prefix: string; footer: FooterMode; command: string },
  result: { status: "reported" | "failed"; reason_code: string; text: string },
): ReplyIntent {
  const text = result.status === "failed" ? failureText(result.reason_code, result.text, opts.prefix) : scrubInternals(result.text);
  const footer = footerLine(opts.footer, opts.prefix, opts.command, result.status, result.reason_code);
  return replyIntent("command", { blocks: [{ kind: "text", text }], ...(footer ? { footer } : {}) });
}
