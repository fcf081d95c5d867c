/**
 * @module The answer a Discord slash command gets when nothing else answers it. The connector acknowledged the
 * command with a deferred response ("thinking…"), which Discord shows until the app edits it or the token expires
 * (15 min); so an event carrying such an interaction that the pipeline closed without a reply (policy or access
 * denied, transport closed, ignored, failed) gets one short sentence here. The runner calls this inside the batch's
 * transaction, right before the event's replies are queued, so the answer commits with the decision: exactly once.
 * Events whose answer comes later are left alone: a command job or a responder job replies itself.
 */
import { GENERIC_FAILURE, type ReasonSentence } from "../commands/reason-sentences.ts";
import { replyTargetOf } from "../contracts/reply-target.ts";
import type { EventContext } from "./context.ts";

/** What the user reads, by the stage that closed the event; no reason codes, no internals. */
const BY_STAGE: Readonly<Record<string, ReasonSentence>> = {
  transport_gate: { sentence: "tau is not taking commands here right now.", next: "Try again later." },
  channel_policy: { sentence: "tau does not take commands in this channel.", next: "Ask an admin where tau answers." },
  access: { sentence: "tau does not take commands from you here.", next: "Ask an admin of this tau to let you in." },
  responders_gate: { sentence: "tau is not answering right now.", next: "Try again later." },
  runner: GENERIC_FAILURE,
};
const NOTHING: ReasonSentence = { sentence: "tau has nothing to say to that.", next: "Try {prefix} help." };

/** True when the event is a deferred slash command that nothing will answer: no reply to it, no job that will. */
export function unansweredInteraction(ctx: EventContext): boolean {
  if (ctx.duplicate || ctx.jobs.length > 0 || ctx.responderJob) return false;
  // A forward (a reply with its own target) answers someone else, not the interaction.
  if (ctx.replies.some((r) => !r.target)) return false;
  return replyTargetOf(ctx.env).interaction?.deferred_command === true;
}

/** Add the closing answer to a deferred slash command nothing else answers (see the module comment). */
export function answerUnansweredInteraction(ctx: EventContext, prefix: string): void {
  if (!unansweredInteraction(ctx)) return;
  const stage = ctx.decisions.at(-1)?.stage ?? "";
  const s = BY_STAGE[stage] ?? NOTHING;
  ctx.replies.push({ purpose: "command", text: `${s.sentence}\nNext: ${s.next.replace(/\{prefix\}/g, prefix)}` });
}
