/**
 * @module Stage: hand non-command messages to the route's responder. A built-in answers now (with same-conversation
 * coalescing); an asynchronous responder (llm, webhook) gets a responder job, inserted with the decision and run
 * after the commit, so its reply is written exactly once whatever crashes in between.
 */
import type { BotIdentity } from "../../contracts/envelope.ts";
import type { ReplyTarget } from "../../contracts/outbound.ts";
import { FORWARD_TO } from "../../contracts/policy.ts";
import type { Responder } from "../../responders/index.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export interface ResponderStageDeps {
  responders: ReadonlyMap<string, Responder>;
  /** Configured asynchronous responders (tau.yaml `responders:`), answered by responder jobs. */
  asyncResponders?: ReadonlySet<string>;
  coalesceWindowMs: number;
  lastResponderAt(conversationKey: string): number | undefined;
  markResponder(conversationKey: string, atMs: number): void;
  /** Our account on each transport, for forward targets (the account a forward is sent from). */
  identity?: BotIdentity;
}

/** `telegram:-100123[:77]` → a reply target sent from our account on that transport; null if malformed. */
export function forwardTarget(spec: string, identity?: BotIdentity): ReplyTarget | null {
  const m = spec.match(FORWARD_TO);
  if (!m) return null;
  const transport = m[1] as "telegram" | "discord" | "whatsapp";
  const account =
    transport === "telegram"
      ? identity?.telegram.bot_id
      : transport === "discord"
        ? identity?.discord.user_id
        : identity?.whatsapp.phone_number_id;
  return { transport, account_id: account ?? "", conversation_id: m[2]!, thread_id: m[3] ?? null, reply_to: null };
}

export function createResponderStage(deps: ResponderStageDeps) {
  return stage<EventContext>("responder", (ctx) => {
    const route = ctx.route;
    const name = route?.responder ?? "ack";
    if (deps.asyncResponders?.has(name)) {
      const env = ctx.env;
      ctx.responderJob = {
        responder: name,
        conversation_key: `${env.transport}:${env.conversation_id}:${env.thread_id ?? ""}`,
        session_key: route!.session_key,
        principal: `${env.transport}:${env.actor.id ?? "unknown"}`,
        role: ctx.role ?? "viewer",
      };
      decide(ctx, { stage: "responder", outcome: "allow", reason: "responder_queued", detail: { responder: name } }, "queued");
      return;
    }
    const responder = deps.responders.get(name);
    if (!responder) {
      decide(ctx, { stage: "responder", outcome: "deny", reason: "responder_unknown", detail: { responder: name } }, "no_reply");
      return;
    }
    const key = `${ctx.env.transport}:${ctx.env.conversation_id}:${ctx.env.thread_id ?? ""}`;
    const coalescing = deps.coalesceWindowMs > 0;
    const last = coalescing ? deps.lastResponderAt(key) : undefined;
    if (
      deps.coalesceWindowMs > 0 &&
      last !== undefined &&
      ctx.env.occurred_at_ms - last >= 0 &&
      ctx.env.occurred_at_ms - last < deps.coalesceWindowMs
    ) {
      decide(
        ctx,
        { stage: "responder", outcome: "skip", reason: "responder_coalesced", detail: { window_ms: deps.coalesceWindowMs } },
        "no_reply",
      );
      return;
    }
    const text = responder.respond(ctx.env, route!);
    if (text === null) {
      decide(ctx, { stage: "responder", outcome: "info", reason: "responder_no_reply", detail: { responder: name } }, "no_reply");
      return;
    }
    let target: ReplyTarget | undefined;
    if (route?.forward_to) {
      const t = forwardTarget(route.forward_to, deps.identity);
      if (!t) {
        decide(
          ctx,
          { stage: "responder", outcome: "deny", reason: "responder_unknown", detail: { responder: name, forward_to: route.forward_to } },
          "no_reply",
        );
        return;
      }
      target = t;
    }
    if (coalescing) deps.markResponder(key, ctx.env.occurred_at_ms);
    ctx.replies.push(target ? { purpose: "responder", text, target } : { purpose: "responder", text });
    decide(
      ctx,
      {
        stage: "responder",
        outcome: "allow",
        reason: "responder_replied",
        detail: target ? { responder: name, forward_to: route!.forward_to ?? null } : { responder: name },
      },
      "replied",
    );
  });
}
