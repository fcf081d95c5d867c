/**
 * @module The per-event context the pipeline stages read and extend, and the facts/effects port they use.
 */
import type { Envelope } from "../contracts/envelope.ts";
import type { Decision } from "../contracts/decision.ts";
import type { EventContext, Outcome } from "../contracts/event-context.ts";

export type { EventContext, JobIntent, Outcome, ResponderJobIntent, RouteInfo } from "../contracts/event-context.ts";

/** Start a context for one envelope. */
export function createContext(env: Envelope, now: number): EventContext {
  return {
    env,
    now,
    decisions: [],
    outcome: "no_reply",
    reason: "pipeline_incomplete",
    route: null,
    role: null,
    replies: [],
    jobs: [],
    responderJob: null,
    duplicate: false,
  };
}

/** Record a decision; if it ends the pipeline, also set the outcome. */
export function decide(ctx: EventContext, d: Decision, outcome?: Outcome): void {
  ctx.decisions.push(d);
  if (outcome) {
    ctx.outcome = outcome;
    ctx.reason = d.reason;
  }
}
