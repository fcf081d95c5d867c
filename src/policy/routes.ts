/** @module Route bindings: the most specific binding for an event, resolved through a precompiled index (PRODUCT.md §5). */
import type { Decision, Role } from "../contracts/decision.ts";
import type { Envelope } from "../contracts/envelope.ts";
import type { RouteBinding, RoutePhase, SessionKeyPlaceholder } from "../contracts/policy.ts";

/** Which exact selector of the winning binding is most specific, or `default` when nothing matched. */
type RouteMatchedBy = "binding.actor" | "binding.conversation" | "binding.account" | "binding.transport" | "binding.wildcard" | "default";

/** Where an event goes: phase, hint, session key and responder, with the binding that decided it. */
interface RouteDecision {
  binding_id: string | null;
  matched_by: RouteMatchedBy;
  phase: RoutePhase;
  category_hint: string;
  session_key: string;
  /** A built-in (`ack`, `none`, `forward`) or a configured responder name. */
  responder: string;
  /** `<transport>:<conversation_id>[:<thread_id>]` with responder forward, else null. */
  forward_to: string | null;
}

/** Values for session key placeholders; null renders as the empty string. */
type SessionKeyVars = Record<SessionKeyPlaceholder, string | null>;

type Segment = { lit: string } | { var: SessionKeyPlaceholder };

/** Render `{placeholder}`s from `vars` (null → ""); unknown placeholders are left as written (schemas reject them). */
export function renderSessionKey(template: string, vars: SessionKeyVars): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
    Object.hasOwn(vars, name) ? (vars[name as SessionKeyPlaceholder] ?? "") : whole,
  );
}

function compileTemplate(template: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{([a-z_]+)\}/g)) {
    if (m.index > last) out.push({ lit: template.slice(last, m.index) });
    out.push({ var: m[1] as SessionKeyPlaceholder });
    last = m.index + m[0].length;
  }
  if (last < template.length) out.push({ lit: template.slice(last) });
  return out;
}

// Selector bits, most specific first. A binding's mask has a bit set for every exact (non-"*") selector.
const ACTOR = 8;
const CONVERSATION = 4;
const ACCOUNT = 2;
const TRANSPORT = 1;

interface CompiledBinding {
  binding: RouteBinding;
  template: Segment[];
  matchedBy: RouteMatchedBy;
}

/** One bucket per selector mask in priority order; each maps the exact selector values to the first binding in file order. */
export interface CompiledRoutes {
  readonly buckets: ReadonlyArray<{ mask: number; byKey: ReadonlyMap<string, CompiledBinding> }>;
  readonly size: number;
  /** Bindings that can never win: an earlier binding has exactly the same selectors (for `tau policy check`). */
  readonly shadowed: ReadonlyArray<{ binding_id: string; shadowed_by: string }>;
}

const popcount = (m: number): number => (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1);

/** Length-prefixed join, so no value can forge another tuple's key. */
function tupleKey(mask: number, transport: string, account: string, conversation: string, actor: string): string {
  let k = "";
  if (mask & TRANSPORT) k += `${transport.length}:${transport}`;
  if (mask & ACCOUNT) k += `${account.length}:${account}`;
  if (mask & CONVERSATION) k += `${conversation.length}:${conversation}`;
  if (mask & ACTOR) k += `${actor.length}:${actor}`;
  return k;
}

function matchedByOf(mask: number): RouteMatchedBy {
  if (mask & ACTOR) return "binding.actor";
  if (mask & CONVERSATION) return "binding.conversation";
  if (mask & ACCOUNT) return "binding.account";
  if (mask & TRANSPORT) return "binding.transport";
  return "binding.wildcard";
}

/**
 * Index validated bindings. Priority: more exact selectors first; on equal counts, the mask compared as the
 * bit string actor, conversation, account, transport (so the most specific exact selector decides, then the next);
 * within one mask the earliest binding in file order wins. Resolving is at most 16 map lookups.
 */
export function compileRouteBindings(bindings: readonly RouteBinding[]): CompiledRoutes {
  const byMask = new Map<number, Map<string, CompiledBinding>>();
  const shadowed: { binding_id: string; shadowed_by: string }[] = [];
  for (const b of bindings) {
    const mask =
      (b.actor_id !== "*" ? ACTOR : 0) |
      (b.conversation_id !== "*" ? CONVERSATION : 0) |
      (b.account_id !== "*" ? ACCOUNT : 0) |
      (b.transport !== "*" ? TRANSPORT : 0);
    const key = tupleKey(mask, b.transport, b.account_id, b.conversation_id, b.actor_id);
    let bucket = byMask.get(mask);
    if (!bucket) byMask.set(mask, (bucket = new Map()));
    const earlier = bucket.get(key);
    if (earlier) shadowed.push({ binding_id: b.binding_id, shadowed_by: earlier.binding.binding_id });
    else bucket.set(key, { binding: b, template: compileTemplate(b.session_key_template), matchedBy: matchedByOf(mask) });
  }
  const buckets = [...byMask.entries()].sort(([a], [b]) => popcount(b) - popcount(a) || b - a).map(([mask, byKey]) => ({ mask, byKey }));
  return { buckets, size: bindings.length, shadowed };
}

/** The default phase when no binding matches: commands → planner, system events → review, else delegated_step. */
function defaultPhase(env: Envelope, isCommand: boolean): RoutePhase {
  if (isCommand) return "planner";
  if (env.kind === "system") return "review";
  return "delegated_step";
}

/**
 * The route for one event. An actor selector never matches an event without an actor id. No match → the
 * deterministic default: phase by `defaultPhase`, session key = the conversation id, responder `facts.defaultResponder`
 * (`ack` unless configured), hint `general`.
 */
export function resolveRoute(
  compiled: CompiledRoutes,
  env: Envelope,
  facts: { isCommand: boolean; role: Role; defaultResponder?: string },
): RouteDecision {
  const actor = env.actor.id;
  for (const { mask, byKey } of compiled.buckets) {
    if (mask & ACTOR && actor === null) continue;
    const hit = byKey.get(tupleKey(mask, env.transport, env.account_id, env.conversation_id, actor ?? ""));
    if (!hit) continue;
    const b = hit.binding;
    const vars: SessionKeyVars = {
      transport: env.transport,
      account_id: env.account_id,
      conversation_id: env.conversation_id,
      actor_id: actor,
      thread_id: env.thread_id,
      role: facts.role,
      binding_id: b.binding_id,
    };
    let session = "";
    for (const s of hit.template) session += "lit" in s ? s.lit : (vars[s.var] ?? "");
    return {
      binding_id: b.binding_id,
      matched_by: hit.matchedBy,
      phase: b.phase,
      category_hint: b.category_hint,
      session_key: session,
      responder: b.responder,
      forward_to: b.forward_to ?? null,
    };
  }
  return {
    binding_id: null,
    matched_by: "default",
    phase: defaultPhase(env, facts.isCommand),
    category_hint: "general",
    session_key: env.conversation_id,
    responder: facts.defaultResponder ?? "ack",
    forward_to: null,
  };
}

/** The route as a trace decision (stage `route`, outcome `info`). */
export function routeDecisionToDecision(rd: RouteDecision): Decision {
  return {
    stage: "route",
    outcome: "info",
    reason: rd.binding_id === null ? "route_default" : "route_binding_matched",
    matched_by: rd.matched_by,
    detail: {
      binding_id: rd.binding_id,
      phase: rd.phase,
      category_hint: rd.category_hint,
      session_key: rd.session_key,
      responder: rd.responder,
      ...(rd.forward_to ? { forward_to: rd.forward_to } : {}),
    },
  };
}
