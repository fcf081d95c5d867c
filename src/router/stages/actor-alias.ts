/**
 * @module Stage (wraps the event-kind slot): a provider's report that an actor's id changed — WhatsApp
 * `user_changed_user_id` (new business-scoped user id) or `user_changed_number` (new phone) — records the old actor
 * key as an alias of the new one, so allowlist entries and pairings made for the old id follow the person. The event
 * itself is then recorded like any system event. `aliasKeysOf` is what the access stage asks.
 * @see PROVIDERS.md §10.3 (BSUID: "on a system message migrate previous_user_id → user_id")
 */
import type { Envelope } from "../../contracts/envelope.ts";
import type { Stage } from "../compose.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

/** The alias facts the stage reads and writes (`store.actorAliases`). */
export interface ActorAliases {
  record(oldKey: string, newKey: string, sourceEventId: string | null, atMs: number): boolean;
  predecessors(key: string): string[];
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The (old, new) actor ids a WhatsApp id-change system event reports, or null for any other event. */
export function idChangeOf(env: Envelope): { from: string; to: string }[] {
  if (env.transport !== "whatsapp" || env.kind !== "system") return [];
  const m = env.meta;
  if (m.system_type === "user_changed_user_id") {
    const pairs: { from: string; to: string }[] = [];
    const prev = str(m.previous_user_id);
    const next = str(m.new_user_id);
    if (prev && next) pairs.push({ from: prev, to: next });
    const prevParent = str(m.previous_parent_user_id);
    const nextParent = str(m.new_parent_user_id);
    if (prevParent && nextParent) pairs.push({ from: prevParent, to: nextParent });
    return pairs;
  }
  if (m.system_type === "user_changed_number") {
    const prev = env.actor.id;
    const next = str(m.new_wa_id);
    return prev && next ? [{ from: prev, to: next }] : [];
  }
  return [];
}

/** Run `stages` in order inside one slot; the last one's `next` is the slot's own `next` (the pipeline goes on). */
function inOrder(stages: readonly Stage<EventContext>[], ctx: EventContext, next: () => void, i: number): void {
  const s = stages[i];
  if (!s) return next();
  s(ctx, () => inOrder(stages, ctx, next, i + 1));
}

/**
 * Record id changes, then run the slot's stages (the event-kind stage records the system event and stops; a message
 * goes on to policy).
 */
export function withActorAliases(aliases: ActorAliases, ...kind: Stage<EventContext>[]): Stage<EventContext> {
  return stage<EventContext>("actor_alias", (ctx, next) => {
    for (const change of idChangeOf(ctx.env)) {
      const oldKey = `${ctx.env.transport}:${change.from}`;
      const newKey = `${ctx.env.transport}:${change.to}`;
      if (!aliases.record(oldKey, newKey, ctx.env.event_id, ctx.now)) continue;
      decide(ctx, { stage: "actor_alias", outcome: "info", reason: "actor_alias_recorded", detail: { old_key: oldKey, new_key: newKey } });
    }
    inOrder(kind, ctx, next, 0);
  });
}

/**
 * The actor keys an event is looked up by, before any alias: its own and, on WhatsApp, the BSUID beside the phone
 * (what the runner reads ahead for a batch: admissions and direct predecessors).
 */
export function actorKeysOf(env: Envelope): string[] {
  if (env.actor.id === null) return [];
  const own = `${env.transport}:${env.actor.id}`;
  const bsuid = env.transport === "whatsapp" ? str(env.meta.from_user_id) : null;
  return bsuid && bsuid !== env.actor.id ? [own, `whatsapp:${bsuid}`] : [own];
}

/**
 * The other actor keys whose allowlist entry or pairing admit this event's actor: the BSUID a WhatsApp message
 * carries beside the phone (`meta.from_user_id`), and every earlier id recorded for either.
 */
export function aliasKeysOf(env: Envelope, aliases: Pick<ActorAliases, "predecessors">): string[] {
  if (env.actor.id === null) return [];
  const own = `${env.transport}:${env.actor.id}`;
  const bsuid = env.transport === "whatsapp" ? str(env.meta.from_user_id) : null;
  // Only its own key (every transport but a WhatsApp message with a BSUID): its predecessors, already distinct.
  if (!bsuid || bsuid === env.actor.id) return aliases.predecessors(own);
  const direct = [`whatsapp:${bsuid}`];
  const out = new Set<string>(direct);
  for (const key of [own, ...direct]) for (const older of aliases.predecessors(key)) out.add(older);
  out.delete(own);
  return [...out];
}
