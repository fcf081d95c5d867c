/** @module Stage: route bindings — the most specific binding wins, else the deterministic default. */
import type { PolicySet } from "../../config/policy-set.ts";
import { resolveRoute, routeDecisionToDecision } from "../../policy/index.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

/** `isCommand` tells whether the text is addressed to us as a command (route phase `planner`). */
export function createRouteStage(policies: () => PolicySet | null, isCommand: (text: string) => boolean, defaultResponder = "ack") {
  return stage<EventContext>("route", (ctx, next) => {
    const p = policies();
    if (!p) return decide(ctx, { stage: "route", outcome: "deny", reason: "deny_channel_policy_load_error" }, "denied");
    const rd = resolveRoute(p.routes, ctx.env, { isCommand: isCommand(ctx.env.text), role: ctx.role ?? "viewer", defaultResponder });
    ctx.route = {
      binding_id: rd.binding_id,
      matched_by: rd.matched_by,
      phase: rd.phase,
      category_hint: rd.category_hint,
      session_key: rd.session_key,
      responder: rd.responder,
      ...(rd.forward_to ? { forward_to: rd.forward_to } : {}),
    };
    decide(ctx, routeDecisionToDecision(rd));
    next();
  });
}
