/**
 * @module Stage (after access): the last mail-loop breaker. An email sender who already got the configured number of
 * replies in the last hour (`channel-policy.yaml` `email.max_replies_per_sender_per_hour`, default 10) gets no more:
 * the event is recorded with `email_reply_rate_limited`. Header-marked automated mail never gets this far (the
 * self/bot filter); this catches auto-responders that mark nothing.
 * @see PROVIDERS.md §10.4 ("a per-sender cap … as the backstop for senders that set none of these")
 */
import type { PolicySet } from "../../config/policy-set.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

const HOUR_MS = 3_600_000;

export interface EmailReplyLimitDeps {
  policies: () => PolicySet | null;
  /** Replies queued to `conversationId` on `transport` since `sinceMs` (`store.replyCounts.since`). */
  repliesSince(transport: string, conversationId: string, sinceMs: number): number;
}

export function createEmailReplyLimitStage(deps: EmailReplyLimitDeps) {
  return stage<EventContext>("email_reply_limit", (ctx, next) => {
    const { env } = ctx;
    if (env.transport !== "email" || env.kind !== "message") return next();
    const max = deps.policies()?.channel.email.max_replies_per_sender_per_hour;
    if (max === undefined) return next(); // no policy: the policy stages before this one already failed closed
    const sent = deps.repliesSince("email", env.conversation_id, ctx.now - HOUR_MS);
    if (sent < max) return next();
    decide(
      ctx,
      { stage: "email_reply_limit", outcome: "deny", reason: "email_reply_rate_limited", detail: { replies_last_hour: sent, max } },
      "denied",
    );
  });
}
