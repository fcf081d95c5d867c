/**
 * @module The per-event context the decision pipeline reads and extends (router stages, responders, the runner,
 * receipts): the route chosen, decisions with reasons, replies and capability jobs asked for. Types only.
 */
import type { Envelope } from "./envelope.ts";
import type { Decision, Role } from "./decision.ts";
import type { ReplyIntent } from "./outbound.ts";

/** Where the event went in the end; one per processed event, on its trace. */
export type Outcome = "replied" | "recorded" | "denied" | "ignored" | "duplicate" | "pending_approval" | "queued" | "no_reply";

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
  /** Set when the capability already ran inline, in the decision's unit of work: the job is recorded finished. */
  result?: { status: "reported" | "failed"; reason_code: string; text: string; data?: unknown };
}

/** An asynchronous responder (llm, webhook) asked for: a responder job, inserted with the decision, run after the commit. */
export interface ResponderJobIntent {
  responder: string;
  /** `<transport>:<conversation_id>:<thread_id>`: jobs of one conversation run one at a time, in order. */
  conversation_key: string;
  session_key: string;
  principal: string;
  role: Role;
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
  /** The responder job this event asked for, if its route's responder is asynchronous. */
  responderJob: ResponderJobIntent | null;
  /** True when this event id was already seen (the trace is not written again). */
  duplicate: boolean;
}
