/** @module Stage: hand non-command messages to the route's responder, with same-conversation coalescing. */
import type { Responder } from "../../responders/index.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export interface ResponderStageDeps {
  responders: ReadonlyMap<string, Responder>;
  coalesceWindowMs: number;
  lastResponderAt(conversationKey: string): number | undefined;
  markResponder(conversationKey: string, atMs: number): void;
}

export function createResponderStage(deps: ResponderStageDeps) {
  return stage<EventContext>("responder", (ctx) => {
    const route = ctx.route;
    const name = route?.responder ?? "ack";
    const responder = deps.responders.get(name);
    if (!responder) {
      decide(ctx, { stage: "responder", outcome: "deny", reason: "responder_unknown", detail: { responder: name } }, "no_reply");
      return;
    }
    const key = `${ctx.env.transport}:${ctx.env.conversation_id}:${ctx.env.thread_id ?? ""}`;
    const coalescing = deps.coalesceWindowMs > 0;
    const last = coalescing ? deps.lastResponderAt(key) : undefined;
    if (deps.coalesceWindowMs > 0 && last !== undefined && ctx.env.occurred_at_ms - last >= 0 && ctx.env.occurred_at_ms - last < deps.coalesceWindowMs) {
      decide(ctx, { stage: "responder", outcome: "skip", reason: "responder_coalesced", detail: { window_ms: deps.coalesceWindowMs } }, "no_reply");
      return;
    }
    const text = responder.respond(ctx.env, route!);
    if (text === null) {
      decide(ctx, { stage: "responder", outcome: "info", reason: "responder_no_reply", detail: { responder: name } }, "no_reply");
      return;
    }
    if (coalescing) deps.markResponder(key, ctx.env.occurred_at_ms);
    ctx.replies.push({ purpose: "responder", text });
    decide(ctx, { stage: "responder", outcome: "allow", reason: "responder_replied", detail: { responder: name } }, "replied");
  });
}
