/** @module Stage: channel policy (dmPolicy, groupPolicy, requireMention); fails closed when no policy ever loaded. */
import type { PolicySet } from "../../config/policy-set.ts";
import { decideChannelPolicy } from "../../policy/index.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export function createChannelPolicyStage(policies: () => PolicySet | null) {
  return stage<EventContext>("channel_policy", (ctx, next) => {
    const p = policies();
    if (!p) {
      decide(ctx, { stage: "channel_policy", outcome: "deny", reason: "deny_channel_policy_load_error" }, "denied");
      return;
    }
    const d = decideChannelPolicy(ctx.env, p.channel);
    if (d.outcome === "deny") return decide(ctx, d, "denied");
    decide(ctx, d);
    next();
  });
}
