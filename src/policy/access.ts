/** @module Access: may this actor talk here, by allowFrom, allowlist and pairing (PRODUCT.md §5, §10 reason codes). */
import type { Decision } from "../contracts/decision.ts";
import type { Envelope } from "../contracts/envelope.ts";
import type { ChannelRule } from "../contracts/policy.ts";
import { deepFreeze } from "./channel-policy.ts";

/** Facts the access stage needs; `allowlisted`/`paired` are looked up by the caller for `<transport>:<actor id>`. */
interface AccessInput {
  env: Envelope;
  rule: ChannelRule;
  allowlisted: boolean;
  paired: boolean;
}

/**
 * Stage `access`. `allowFrom: any` admits everyone (even without an actor id). Otherwise an actor id is required;
 * the allowlist admits anywhere; pairing admits only in DMs under `allowlist_or_pairing` (pairing is DM-only, groups
 * need the allowlist), so `allow_allowlist_and_pairing` is reported only where pairing counts.
 */
export function decideAccess(input: AccessInput): Decision {
  // The decision depends on the rule, the chat type, whether there is an actor id, and the two admissions only: one
  // frozen decision per case, shared by the events that meet it (fewer objects per event; the trace encodes it once).
  const { env, rule, allowlisted, paired } = input;
  let byCase = DECIDED.get(rule);
  if (!byCase) DECIDED.set(rule, (byCase = new Map()));
  const key = `${env.chat_type}:${env.actor.id === null ? 0 : 1}${allowlisted ? 1 : 0}${paired ? 1 : 0}`;
  let d = byCase.get(key);
  if (!d) byCase.set(key, (d = deepFreeze(accessDecision(input))));
  return d;
}

/** Access decisions per channel rule (a policy file's rules are replaced, not changed, on reload), by case. */
const DECIDED = new WeakMap<ChannelRule, Map<string, Decision>>();

function accessDecision(input: AccessInput): Decision {
  const { env, rule, allowlisted, paired } = input;
  const isDm = env.chat_type === "dm";
  const pairingCounts = isDm && rule.allowFrom === "allowlist_or_pairing";
  const base = { allowFrom: rule.allowFrom, chat_type: env.chat_type };
  const allow = (reason: string, matchedBy: string): Decision => ({
    stage: "access",
    outcome: "allow",
    reason,
    matched_by: matchedBy,
    detail: base,
  });
  const deny = (reason: string, pairingEligible: boolean): Decision => ({
    stage: "access",
    outcome: "deny",
    reason,
    matched_by: `allowFrom:${rule.allowFrom}`,
    detail: { ...base, pairing_eligible: pairingEligible },
  });

  if (rule.allowFrom === "any") return allow("allow_channel_policy_allow_from_any", "allowFrom:any");
  if (env.actor.id === null) return deny("deny_actor_id_missing", false);
  if (allowlisted && paired && pairingCounts) return allow("allow_allowlist_and_pairing", "allowlist+pairing");
  if (allowlisted) return allow("allow_allowlist", "allowlist");
  if (paired && pairingCounts) return allow("allow_pairing", "pairing");
  if (pairingCounts) return deny("deny_actor_not_paired_or_allowlisted", true);
  return deny("deny_actor_not_allowlisted", false);
}
