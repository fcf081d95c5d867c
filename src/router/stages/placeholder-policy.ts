/** @module Stage: the permissive placeholder policy of the core runner — admits every message. Replaced by channel policy + access. */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export function createPlaceholderPolicyStage() {
  return stage<EventContext>("policy", (ctx, next) => {
    decide(ctx, { stage: "policy", outcome: "allow", reason: "allow_channel_policy_allow_from_any", matched_by: "placeholder" });
    next();
  });
}
