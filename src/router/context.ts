/**
 * @module The per-event context the pipeline stages read and extend, and the facts/effects port they use.
 */
import type { Envelope } from "../contracts/envelope.ts";
import type { Decision, Role } from "../contracts/decision.ts";
import type { ReplyIntent } from "../contracts/outbound.ts";

/** Where the event went in the end; one per processed event, on its trace. */
export type Outcome =
  | "replied"
  | "recorded"
  | "denied"
  | "ignored"
  | "duplicate"
  | "pending_approval"
  | "no_reply";

/** The route chosen for an event (PRODUCT.md §5). */
export interface RouteInfo {
  binding_id: string | null;
  matched_by: string;
  phase: string;
  category_hint: string;
  session_key: string;
  responder: string;
  forward_to?: string | null;
}

/** A capability run the command stage asks for; executed after the decision commits. */
export interface JobIntent {
  capability_id: string;
  args: Record<string, unknown>;
  command: string;
  principal: string;
  role: Role;
  approval_id: string | null;
}

export interface EventContext {
  env: Envelope;
  now: number;
  decisions: Decision[];
  outcome: Outcome;
  reason: string;
  route: RouteInfo | null;
  role: Role | null;
  replies: ReplyIntent[];
  jobs: JobIntent[];
  /** True when this event id was already seen (the trace is not written again). */
  duplicate: boolean;
}

/** Start a context for one envelope. */
export function createContext(env: Envelope, now: number): EventContext {
  return { env, now, decisions: [], outcome: "no_reply", reason: "pipeline_incomplete", route: null, role: null, replies: [], jobs: [], duplicate: false };
}

/** Record a decision; if it ends the pipeline, also set the outcome. */
export function decide(ctx: EventContext, d: Decision, outcome?: Outcome): void {
  ctx.decisions.push(d);
  if (outcome) {
    ctx.outcome = outcome;
    ctx.reason = d.reason;
  }
}
