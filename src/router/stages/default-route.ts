/** @module Stage: the deterministic default route of the core runner (replaced by route bindings). */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

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
