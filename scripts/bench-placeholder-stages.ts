/**
 * @module Benchmark scaffolding for `scripts/bench-core.ts`'s placeholder variant: the permissive placeholder
 * policy (admits every message) and the deterministic default route, standing in for channel policy, access and
 * route bindings so the runner's own cost can be compared with the real pipeline's. Not part of tau.
 */
import { stage } from "../src/router/compose.ts";
import { decide, type EventContext } from "../src/router/context.ts";

/** Admit every message, as `allowFrom: any` would. */
export function createPlaceholderPolicyStage() {
  return stage<EventContext>("policy", (ctx, next) => {
    decide(ctx, { stage: "policy", outcome: "allow", reason: "allow_channel_policy_allow_from_any", matched_by: "placeholder" });
    next();
  });
}

/** The default route every message gets when no binding matches, without reading bindings. */
export function createDefaultRouteStage() {
  return stage<EventContext>("route", (ctx, next) => {
    ctx.route = {
      binding_id: null,
      matched_by: "default",
      phase: ctx.env.kind === "system" ? "review" : "delegated_step",
      category_hint: "general",
      session_key: ctx.env.conversation_id,
      responder: "ack",
    };
    decide(ctx, { stage: "route", outcome: "info", reason: "route_default", matched_by: "default" });
    next();
  });
}
